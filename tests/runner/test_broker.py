"""The broker transport and options both Celery apps take from portfolio/runner/broker.py."""

from __future__ import annotations

from pathlib import Path

from kombu.utils.imports import symbol_by_name

from portfolio.runner import broker, fsbroker


def test_the_filesystem_transport_is_the_one_that_writes_messages_whole():
    assert symbol_by_name(broker.FILESYSTEM_TRANSPORT) is fsbroker.Transport
    assert broker.transport("filesystem://") == broker.FILESYSTEM_TRANSPORT
    assert broker.transport("redis://localhost:6379/0") is None


def test_the_filesystem_broker_shares_one_message_folder_and_creates_its_folders(tmp_path: Path):
    options = broker.transport_options("filesystem://", broker_dir=tmp_path / "broker", hard_limit_s=100)

    assert options["data_folder_in"] == options["data_folder_out"] == str(tmp_path / "broker" / "out")
    assert options["control_folder"] == str(tmp_path / "broker" / "control")
    assert all((tmp_path / "broker" / name).is_dir() for name in ("out", "processed", "control"))


def test_redis_redelivers_only_after_the_longest_run_and_never_waits_for_ever(tmp_path: Path):
    options = broker.transport_options("redis://localhost:6379/0", broker_dir=tmp_path / "unused", hard_limit_s=2100)

    assert options == {"visibility_timeout": 2310, "socket_timeout": 5, "socket_connect_timeout": 3}
    assert not (tmp_path / "unused").exists()
