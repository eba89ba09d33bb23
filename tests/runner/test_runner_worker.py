"""A real runner worker process (the runner env's celery, prefork, -c 1) on a filesystem broker in
a temporary folder. The test publishes `runner.execute` like the Django side does and reads the
`portfolio.record_progress` / `portfolio.record_result` messages from queue "default" with a
kombu consumer, standing in for the Django worker."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from celery import Celery

from portfolio.runner import celery_app, protocol
from portfolio.runner.sandbox import quota
from tests.runner.conftest import OK_PROGRAM, REPO, hostile_payload, runner_python, script_payload
from tests.runner.test_sandbox import processes_with

pytestmark = [pytest.mark.sandbox, pytest.mark.runner_env, pytest.mark.slow]

READY_TIMEOUT_S = 30
STOP_GRACE_S = 10


class RunnerWorker:
    """Started with its own session and stopped with TERM to the main process only, then KILL
    after 10 s: a TERM to the whole group can deadlock billiard (research 1a)."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        celery = Path(runner_python() or "").parent / "celery"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    str(celery),
                    "-A",
                    "portfolio.runner.celery_app",
                    "worker",
                    "-Q",
                    "runner",
                    "-c",
                    "1",
                    "--pool",
                    "prefork",
                    "-l",
                    "info",
                    "-n",
                    f"runner-test-{secrets.token_hex(4)}@%h",
                    "--without-gossip",
                    "--without-mingle",
                ],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if " ready." in self.log_path.read_text(errors="replace"):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"the runner worker did not start:\n{self.log_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def kill_everything(self) -> None:
        """What a crashed host or an OOM kill of the whole worker looks like."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def broker_dir(work_root: Path) -> Path:
    path = work_root / f"broker-{secrets.token_hex(4)}"
    path.mkdir()
    return path


@pytest.fixture
def publisher(broker_dir: Path) -> Celery:
    return celery_app.create_app({"RUNNER_BROKER_DIR": str(broker_dir)})


@pytest.fixture
def worker_env(broker_dir: Path, work_root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "RUNNER_"))}
    env.update(
        RUNNER_BROKER_DIR=str(broker_dir),
        RUNNER_PYTHON=os.environ["RUNNER_PYTHON"],
        RUNNER_WORK_DIR=os.environ["RUNNER_WORK_DIR"],
        RUNNER_SANDBOX_UID=os.environ["RUNNER_SANDBOX_UID"],
        RUNNER_SANDBOX_GID=os.environ["RUNNER_SANDBOX_GID"],
        RUNNER_HEARTBEAT_S="0.5",
    )
    return env


@pytest.fixture
def start_worker(worker_env: dict[str, str], broker_dir: Path) -> Iterator[Any]:
    workers: list[RunnerWorker] = []

    def start(extra_env: dict[str, str] | None = None) -> RunnerWorker:
        worker = RunnerWorker({**worker_env, **(extra_env or {})}, broker_dir / f"worker-{len(workers)}.log")
        workers.append(worker)
        worker.start()
        return worker

    yield start
    for worker in workers:
        worker.stop()


def collect_until_result(app: Celery, attempt_id: int, *, timeout: float) -> list[tuple[str, list[Any]]]:
    """Messages on queue "default" as (task name, args), until record_result for attempt_id."""
    received: list[tuple[str, list[Any]]] = []
    deadline = time.monotonic() + timeout
    with app.connection_for_read() as connection:
        queue = connection.SimpleQueue(protocol.QUEUE_DEFAULT, no_ack=True)
        try:
            while time.monotonic() < deadline:
                try:
                    message = queue.get(timeout=max(0.1, deadline - time.monotonic()))
                except Empty:
                    continue
                args = message.decode()[0]
                received.append((message.headers["task"], args))
                if message.headers["task"] == protocol.TASK_RECORD_RESULT and args[0] == attempt_id:
                    return received
        finally:
            queue.close()
    names = [(name, args[0], args[1].get("stage")) for name, args in received]
    raise AssertionError(f"no result for attempt {attempt_id} within {timeout} s; received {names}")


def queued_runner_messages(broker_dir: Path) -> list[str]:
    return sorted(p.name for p in (broker_dir / "out").iterdir() if p.name.endswith(".runner.msg"))


def test_a_real_worker_runs_a_job_and_reports_progress_and_result(
    publisher: Celery, start_worker: Any, broker_dir: Path
):
    env_secret = "planted-worker-secret-" + secrets.token_hex(8)
    worker = start_worker({"SECRET_KEY": env_secret, "DATABASE_URL": f"postgres://u:{env_secret}@db/x"})
    slow_ok = "import json, os, time\ntime.sleep(1.5)\nprint(json.dumps({'ok': True, 'env': sorted(os.environ)}))\n"

    publisher.send_task(protocol.TASK_EXECUTE, args=[script_payload(slow_ok, attempt_id=501)], queue="runner")
    messages = collect_until_result(publisher, 501, timeout=60)

    name, (attempt_id, result) = messages[-1]
    assert (name, attempt_id) == (protocol.TASK_RECORD_RESULT, 501)
    assert (result["outcome"], result["verdict"]) == ("completed", "passed"), result["log_tail"]
    assert protocol.validate_result(result) == result
    assert result["sandboxed"] is True and result["environment"]["sandbox"].startswith("bubblewrap")
    assert "SECRET_KEY" not in result["metrics"]["env"]
    assert env_secret not in json.dumps(messages)
    progress = [data for task, (aid, data) in messages if task == protocol.TASK_RECORD_PROGRESS and aid == 501]
    # Two messages sent in the same millisecond can arrive swapped (the filesystem broker orders by
    # name); the runner's sequence number gives the order they were sent in.
    progress.sort(key=lambda p: p["seq"])
    stages = [p["stage"] for p in progress if not p.get("heartbeat")]
    assert stages[:4] == ["received", "environment", "unpacked", "grading"]
    assert stages[-1] == "finished"
    heartbeats = [p for p in progress if p.get("heartbeat")]
    assert heartbeats and all(p["stage"] == "step" and p["elapsed_s"] > 0 for p in heartbeats)
    assert queued_runner_messages(broker_dir) == []
    assert "runner sandbox: bubblewrap" in worker.log_text()


def test_a_killed_worker_loses_the_job_on_the_filesystem_broker(publisher: Celery, start_worker: Any, broker_dir: Path):
    """Observed behaviour, documented in README.md: with the filesystem transport a message is
    moved out of the queue folder when a worker takes it, so a worker killed mid-job (acks_late
    notwithstanding) never sees it again. The sandbox dies with it. Django's reaper must mark the
    attempt lost (no heartbeat) and retry it."""
    token = "layerwise-killed-" + secrets.token_hex(6)
    worker = start_worker()
    publisher.send_task(
        protocol.TASK_EXECUTE,
        args=[hostile_payload("sleeper.py", argv=[token], wall_s=120) | {"attempt_id": 601}],
        queue="runner",
    )
    deadline = time.monotonic() + 30
    while not processes_with(token) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with(token), f"the job never started:\n{worker.log_text()[-2000:]}"

    worker.kill_everything()

    deadline = time.monotonic() + 5
    while processes_with(token) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with(token) == []  # --die-with-parent took the sandbox down too
    assert queued_runner_messages(broker_dir) == []  # the job is not waiting to be redelivered

    start_worker()
    publisher.send_task(protocol.TASK_EXECUTE, args=[script_payload(OK_PROGRAM, attempt_id=602)], queue="runner")
    messages = collect_until_result(publisher, 602, timeout=60)

    assert messages[-1][1][1]["verdict"] == "passed"
    # The killed job's folder (its disk-quota tmpfs, where the runner may mount) was swept by the
    # next job: nothing is left mounted.
    assert quota.mounts_under(Path(os.environ["RUNNER_WORK_DIR"])) == []
    # Attempt 601's progress from before the kill is there; it never started again or finished.
    about_601 = [(name, args[1]) for name, args in messages if args[0] == 601]
    assert [data["stage"] for _, data in about_601 if not data.get("heartbeat")][:1] == ["received"]
    assert sum(data["stage"] == "received" for _, data in about_601) == 1
    assert all(name == protocol.TASK_RECORD_PROGRESS for name, _ in about_601)
