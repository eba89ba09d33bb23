"""The Celery broker transport and its options, for both apps that share one broker.

The web app's settings (config/settings.py) and the runner's Celery app (celery_app.py) both take
the transport and its options from here, so the two sides of one broker cannot drift apart: with
a shared Redis the shortest visibility timeout of any consumer wins, and with the filesystem
broker both must use the same folders. Standard library only (the settings import it); the
filesystem transport is named by its dotted path and lives in fsbroker.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# kombu's own filesystem transport can hand a consumer a half-written message and stop the
# worker; this one writes each message whole.
FILESYSTEM_TRANSPORT = "portfolio.runner.fsbroker:Transport"


def is_filesystem(broker_url: str) -> bool:
    return broker_url.startswith("filesystem")


def transport(broker_url: str) -> str | None:
    """The transport class to use instead of kombu's default for this URL, or None."""
    return FILESYSTEM_TRANSPORT if is_filesystem(broker_url) else None


def transport_options(broker_url: str, *, broker_dir: Path, hard_limit_s: int) -> dict[str, Any]:
    """Celery's broker_transport_options. For the filesystem broker, its folders under
    `broker_dir` are created here; `hard_limit_s` is the runner's hard task time limit."""
    if is_filesystem(broker_url):
        folders = {name: broker_dir / name for name in ("out", "processed", "control")}
        for folder in folders.values():
            folder.mkdir(parents=True, exist_ok=True)
        return {
            # Producers and consumers share one folder (research 1a).
            "data_folder_in": str(folders["out"]),
            "data_folder_out": str(folders["out"]),
            "processed_folder": str(folders["processed"]),
            # Defaults to ./control relative to each process's CWD; must be shared.
            "control_folder": str(folders["control"]),
            "store_processed": False,
            "polling_interval": 0.1,
        }
    return {
        # Redis/SQS redeliver an unacked message after this, and with a shared broker any consumer
        # restores unacknowledged messages older than its own timeout: it must exceed the longest
        # run on every app, or a running GPU job is handed to a second runner.
        "visibility_timeout": int(1.1 * hard_limit_s),
        # A broker that accepts connections but stops answering (failover, a NAT dropping the
        # connection) would otherwise hold a publish (and the web request or result send around
        # it) for ever. Consumers wait with BRPOP timeouts of 1 s, well inside this.
        "socket_timeout": 5,
        "socket_connect_timeout": 3,
    }
