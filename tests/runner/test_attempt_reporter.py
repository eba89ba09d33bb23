"""The runner's AttemptReporter: heartbeats only while the job runs, in order with its stages."""

from __future__ import annotations

from typing import Any

from portfolio.runner import protocol
from portfolio.runner.celery_app import AttemptReporter


class RecordingApp:
    def __init__(self) -> None:
        self.sent: list[tuple[str, list[Any]]] = []

    def send_task(self, name: str, *, args: list[Any], **_: Any) -> None:
        self.sent.append((name, args))


def test_no_heartbeat_is_sent_after_the_finished_stage() -> None:
    """A heartbeat thread that woke just before the job's last stage must not report after it (it
    would say "finished" as if the job were still beating)."""
    app = RecordingApp()
    reporter = AttemptReporter(app, 7, heartbeat_s=3600)  # type: ignore[arg-type]
    reporter.progress("step", {})
    reporter._send(protocol.TASK_RECORD_PROGRESS, {"stage": "step", "heartbeat": True}, heartbeat=True)
    reporter.progress("finished", {"outcome": "completed"})
    reporter._send(protocol.TASK_RECORD_PROGRESS, {"stage": "finished", "heartbeat": True}, heartbeat=True)
    stages = [(args[1]["stage"], bool(args[1].get("heartbeat"))) for _, args in app.sent]
    assert stages == [("step", False), ("step", True), ("finished", False)]
    assert [args[1]["seq"] for _, args in app.sent] == [1, 2, 3]
