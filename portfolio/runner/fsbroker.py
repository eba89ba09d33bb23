"""kombu's filesystem transport, with messages that appear whole.

kombu 5.7's `filesystem` transport creates a message file in place and then locks and writes
it; a consumer that lists the folder in that instant moves the still-empty file away, fails to
decode it, and its worker stops consuming (JSONDecodeError in the consumer loop). With the
runner's heartbeats that happens within hours in the embedded mode, and it was seen in the
end-to-end tests. Here a message is written under a name no consumer matches and renamed into
place, which is atomic on one filesystem; and a message that still cannot be decoded (from an
unpatched producer) is logged and dropped instead of stopping the worker: the attempt it
belonged to is then reaped and retried like any lost one.

Used by both Celery apps when the broker is `filesystem://` (broker.py names it for Django's
CELERY_BROKER_TRANSPORT and the runner's celery_app.settings_from_env). Standard library and kombu
only.
"""

from __future__ import annotations

import logging
import os
import uuid
from queue import Empty
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

log = logging.getLogger(__name__)


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # A leading dot and no ".msg" ending: kombu's _get only takes "<stamp>_<uuid>.<queue>.msg".
        partial = os.path.join(self.data_folder_out, f".{uuid.uuid4()}.partial")
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            try:
                os.unlink(partial)
            except OSError:
                pass
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _get(self, queue: str) -> Any:
        try:
            return super()._get(queue)
        except ValueError as exc:  # JSONDecodeError: a message written in place by an old producer
            log.error("dropped an unreadable message from queue %s: %s", queue, exc)
            raise Empty() from None


class Transport(filesystem.Transport):
    Channel = Channel
