"""Brokers for fault tests: point this process's Celery app somewhere else, and private Redis
servers that a test can stop and start again."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from kombu import pools

from config.celery import app as celery_app
from portfolio.runner import broker

REQUIRE_SERVERS = os.environ.get("LAYERWISE_REQUIRE_SERVERS") == "1"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dead_cache() -> dict[str, dict[str, object]]:
    """CACHES for a Redis cache nobody listens on, giving up within a second."""
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/1",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }


def filesystem_options(folder: Path) -> dict[str, object]:
    """The filesystem broker's options for a folder, as config/settings.py builds them."""
    return {
        "data_folder_in": str(folder / "out"),
        "data_folder_out": str(folder / "out"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }


def redis_db_url(url: str, db: int) -> str:
    """The same Redis server, another database number: redis://host:port/0 -> .../db."""
    base, _, last = url.rstrip("/").rpartition("/")
    return f"{base}/{db}" if last.isdigit() and base.count("/") >= 2 else f"{url.rstrip('/')}/{db}"


def reset_connections() -> None:
    celery_app._after_fork()  # drop the producer pool made with the old broker
    pools.reset()


@contextmanager
def use_broker(url: str, transport_options: dict[str, object] | None = None) -> Iterator[None]:
    """Point this process's Celery app (what RunAttempt.send uses) at another broker."""
    conf = celery_app.conf
    keys = ("broker_read_url", "broker_write_url", "broker_transport", "broker_transport_options")
    saved = {key: conf.get(key) for key in keys}
    # The read and write URLs, not broker_url: Celery prefers a CELERY_BROKER_URL in the
    # environment (the suite's second pass sets one) over broker_url, but not over these.
    conf.broker_read_url = conf.broker_write_url = url
    conf.broker_transport = broker.transport(url)
    conf.broker_transport_options = transport_options or {}
    reset_connections()
    try:
        yield
    finally:
        for key, value in saved.items():
            setattr(conf, key, value)
        reset_connections()


def skip_unless(available: bool, reason: str) -> None:
    """Skip a test that needs a server this machine lacks; CI (LAYERWISE_REQUIRE_SERVERS=1) fails."""
    if available:
        return
    if REQUIRE_SERVERS:
        pytest.fail(f"{reason} (LAYERWISE_REQUIRE_SERVERS=1)")
    pytest.skip(reason)


class RedisServer:
    """A private redis-server on a loopback port, without persistence: a restart loses every
    queued message, the worst case a broker restart can bring."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="layerwise-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        log = (self.folder / "redis.log").open("ab")
        self.proc = subprocess.Popen(
            argv, cwd=self.folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"redis-server did not start on port {self.port}: {self.log_tail()}")
            time.sleep(0.05)

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # as a crash or an OOM kill would: nothing is saved
            self.proc.wait(10)
        self.proc = None

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def log_tail(self) -> str:
        path = self.folder / "redis.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""


def suite_broker_is_redis() -> bool:
    return settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://"))
