"""The runner worker's own small Celery app (no Django, no database, no secrets).

    celery -A portfolio.runner.celery_app worker -Q runner -c 1 --pool prefork

Configured only from the environment: CELERY_BROKER_URL (default filesystem://, with folders
under RUNNER_BROKER_DIR, default <repo>/var/broker), RUNNER_HEARTBEAT_S (default 5) and
LOG_FORMAT (plain, or json for one JSON object per line). The
worker consumes `runner.execute` on queue "runner" and answers with `portfolio.record_progress`
and `portfolio.record_result` on queue "default", sent by name so neither side imports the other.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from celery import Celery, signals

from portfolio.runner import broker, environment, jobs, jsonlog, protocol
from portfolio.runner.sandbox import launch
from portfolio.runner.sandbox.config import SandboxConfig, SandboxUnavailable

log = logging.getLogger(__name__)

APP_NAME = "layerwise-runner"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_HEARTBEAT_S = 5.0
TASK_TIME_LIMIT_S = protocol.TASK_TIME_LIMIT_S


def settings_from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    broker_url = environ.get("CELERY_BROKER_URL") or "filesystem://"
    hard = TASK_TIME_LIMIT_S
    return {
        "broker_url": broker_url,
        # The same transport and options as the Django side, from one definition (broker.py).
        "broker_transport": broker.transport(broker_url),
        "broker_transport_options": broker.transport_options(
            broker_url,
            broker_dir=Path(environ.get("RUNNER_BROKER_DIR") or REPO_ROOT / "var" / "broker"),
            hard_limit_s=hard,
        ),
        "broker_connection_retry_on_startup": True,
        # JSON only: a runner host must never unpickle what arrives on the queue.
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        # State lives in Django's rows, reported by record_result; no result backend to secure.
        "task_ignore_result": True,
        "result_backend": None,
        # Ack after the job, so a crashed worker does not silently drop it (Redis redelivers;
        # Django's attempt counter stops a job that kills workers from looping).
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # One GPU job at a time per worker process: never reserve a second one behind it.
        "worker_prefetch_multiplier": 1,
        "worker_concurrency": 1,
        # Recycle the pool's child now and then (leaks in long-lived processes), not after every
        # job: harnesses are subprocesses, so CUDA never touches the child, and replacing it after
        # each job delayed the next pickup on Redis by 2-4.5 s (bench/run_start_latency.py).
        "worker_max_tasks_per_child": 100,
        # Backstops only: the sandbox's own wall clock (at most MAX_WALL_S) fires first.
        "task_time_limit": hard,
        "task_soft_time_limit": int(0.9 * hard),
        # Without this, an acks_late job runs again (even in parallel) after a broker blip.
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "task_default_queue": protocol.QUEUE_RUNNER,
        "task_routes": {
            protocol.TASK_EXECUTE: {"queue": protocol.QUEUE_RUNNER},
            protocol.TASK_RECORD_PROGRESS: {"queue": protocol.QUEUE_DEFAULT},
            protocol.TASK_RECORD_RESULT: {"queue": protocol.QUEUE_DEFAULT},
        },
        "worker_send_task_events": False,
    }


def create_app(environ: Mapping[str, str] | None = None) -> Celery:
    # Not made current: a Django process that imports this module (the tests, bench/) keeps sending
    # with its own app through celery.current_app. The worker makes this app current itself.
    celery_app = Celery(APP_NAME, set_as_current=False)
    celery_app.conf.update(settings_from_env(os.environ if environ is None else environ))
    return celery_app


app = create_app()


class AttemptReporter:
    """Sends progress at each stage, a heartbeat every `heartbeat_s` from a thread while the job
    runs, and the final result. Sends are serialised: the producer is shared by both threads."""

    def __init__(self, celery_app: Celery, attempt_id: int, *, heartbeat_s: float) -> None:
        self.app = celery_app
        self.attempt_id = attempt_id
        self.heartbeat_s = heartbeat_s
        self.stage = "received"
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._seq = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{attempt_id}", daemon=True)

    def __enter__(self) -> AttemptReporter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def progress(self, stage: str, detail: dict[str, Any]) -> None:
        if stage == "finished":
            # Heartbeats say the job is still going: none may follow its last stage (a beat that
            # woke just before this line is dropped under the lock in _send).
            self._stop.set()
        self.stage = stage
        self._send(protocol.TASK_RECORD_PROGRESS, {"stage": stage, **detail})

    def send_result(self, result: dict[str, Any]) -> None:
        with self._lock:
            self.app.send_task(
                protocol.TASK_RECORD_RESULT,
                args=[self.attempt_id, result],
                queue=protocol.QUEUE_DEFAULT,
                retry=True,
            )

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            elapsed = round(time.monotonic() - self.started, 1)
            self._send(
                protocol.TASK_RECORD_PROGRESS,
                {"stage": self.stage, "heartbeat": True, "elapsed_s": elapsed},
                heartbeat=True,
            )

    def _send(self, task_name: str, data: dict[str, Any], *, heartbeat: bool = False) -> None:
        # Progress is advisory: a lost message must not fail the job (the result still goes out).
        try:
            with self._lock:
                if heartbeat and self._stop.is_set():
                    return
                # Messages can arrive out of order (two threads, redelivery): a sequence number and
                # the runner's clock let the receiver order them and time the stages.
                self._seq += 1
                data = {**data, "seq": self._seq, "sent_at": round(time.time(), 3)}
                self.app.send_task(
                    task_name,
                    args=[self.attempt_id, data],
                    queue=protocol.QUEUE_DEFAULT,
                    retry=True,
                )
        except Exception:
            log.exception("could not send %s for attempt %s", task_name, self.attempt_id)


def heartbeat_interval(environ: Mapping[str, str] | None = None) -> float:
    raw = (os.environ if environ is None else environ).get("RUNNER_HEARTBEAT_S", "")
    try:
        value = float(raw) if raw.strip() else DEFAULT_HEARTBEAT_S
    except ValueError:
        log.warning("RUNNER_HEARTBEAT_S=%r is not a number; using %s", raw, DEFAULT_HEARTBEAT_S)
        return DEFAULT_HEARTBEAT_S
    return max(value, 0.1)


@app.task(name=protocol.TASK_EXECUTE)
def execute(payload: dict[str, Any]) -> None:
    attempt_id, _ = jobs.ids_of(payload)
    if attempt_id is None:
        log.error("dropped a %s message without a usable attempt_id", protocol.TASK_EXECUTE)
        return
    with AttemptReporter(app, attempt_id, heartbeat_s=heartbeat_interval()) as reporter:
        result = jobs.execute(payload, progress=reporter.progress)
    reporter.send_result(result)
    log.info("attempt %s: %s / %s", attempt_id, result["outcome"], result["verdict"])


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def _json_logs(logger: logging.Logger, **_: Any) -> None:
    """LOG_FORMAT=json: one JSON object per line, like the web app's workers (jsonlog.py)."""
    if os.environ.get("LOG_FORMAT") == "json":
        jsonlog.use_json(logger)


@signals.worker_init.connect
def _warm_up(**_: Any) -> None:
    """Probe the sandbox and the environment once in the worker's main process, before the pool
    forks, so every child inherits both caches and a broken sandbox shows in the startup log."""
    try:
        config = SandboxConfig.from_env()
    except SandboxUnavailable as exc:
        log.error("runner sandbox misconfigured: %s", exc)
        return
    result = launch.probe(config)
    if result.ok:
        log.warning("runner sandbox: %s, uid %s", result.label, config.uid)
    elif config.allow_unsandboxed:
        log.warning(
            "runner sandbox unavailable (%s); running UNSANDBOXED (RUNNER_ALLOW_UNSANDBOXED)",
            result.reason,
        )
    else:
        log.error(
            "runner sandbox unavailable: %s; every job will end in system_error",
            result.reason,
        )
    manifest = environment.collect(config)
    log.warning(
        "runner environment: device=%s torch=%s python=%s sandbox=%s%s",
        manifest.get("device"),
        manifest.get("torch"),
        manifest.get("python"),
        manifest.get("sandbox"),
        f" probe_error={manifest['probe_error']}" if manifest.get("probe_error") else "",
    )
