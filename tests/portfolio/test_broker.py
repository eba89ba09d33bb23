"""The filesystem broker used by the embedded mode: messages appear whole, a bad one is dropped."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.test import SimpleTestCase
from kombu import Connection

from config.celery import app
from portfolio.runner import broker, fsbroker
from portfolio.runner import celery_app as runner_celery


class FilesystemBrokerTests(SimpleTestCase):
    def setUp(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="layerwise-broker-"))
        self.options = {
            "data_folder_in": str(self.folder),
            "data_folder_out": str(self.folder),
            "processed_folder": str(self.folder / "processed"),
            "control_folder": str(self.folder / "control"),
            "store_processed": False,
        }

    def connection(self) -> Connection:
        return Connection("filesystem://", transport=fsbroker.Transport, transport_options=self.options)

    def test_a_message_is_written_whole_under_its_final_name(self):
        with self.connection() as conn:
            queue = conn.SimpleQueue("whole")
            queue.put({"attempt": 1})
            names = os.listdir(self.folder)
            assert [n for n in names if n.endswith(".whole.msg")] and not [n for n in names if "partial" in n], names
            assert queue.get(timeout=1).payload == {"attempt": 1}
            queue.close()

    def test_a_half_written_message_is_dropped_and_the_next_one_delivered(self):
        with self.connection() as conn:
            queue = conn.SimpleQueue("halves")
            # What kombu's own producer leaves for an instant: the file exists, still empty.
            (self.folder / "1_00000000-0000-0000-0000-000000000000.halves.msg").write_bytes(b"")
            queue.put({"attempt": 2})
            assert queue.get(timeout=2).payload == {"attempt": 2}
            queue.close()

    def test_both_celery_apps_use_it_on_the_filesystem_broker(self):
        if not settings.CELERY_BROKER_URL.startswith("filesystem"):
            self.skipTest("the suite runs against another broker")
        assert app.conf.broker_transport == broker.FILESYSTEM_TRANSPORT
        assert runner_celery.settings_from_env({})["broker_transport"] == broker.FILESYSTEM_TRANSPORT
        assert runner_celery.settings_from_env({"CELERY_BROKER_URL": "redis://x"})["broker_transport"] is None
