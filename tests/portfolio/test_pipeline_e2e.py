"""The whole run pipeline with real processes (tests/portfolio/workers.py): an upload reaches a
stored result through both workers and the sandbox, hostile submissions end with their verdicts,
a runner killed mid-run is retried and finally marked lost, and a result delivered twice or late
changes nothing. On the suite's PostgreSQL + Redis pass these run on PostgreSQL and Redis.
"""

from __future__ import annotations

import secrets
import socket
import tempfile
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings

from config.celery import app as celery_app
from portfolio.models import Run, RunAttempt
from portfolio.runner import protocol
from tests.brokers import suite_broker_is_redis
from tests.factories import OK_SCRIPT
from tests.portfolio.helpers import make_zip
from tests.portfolio.workers import LIMITS, REPO, RealWorkersTestCase

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]


NETWORK = """
import json, socket
def attempt(action):
    try:
        action()
    except OSError as exc:
        return f"error: {type(exc).__name__}: {exc}"
    return "connected"
def tcp(host, port):
    return lambda: socket.create_connection((host, port), timeout=2).close()
seen = {
    "host_loopback": attempt(tcp("127.0.0.1", PORT)),
    "outside": attempt(tcp("1.1.1.1", 80)),
    "dns": attempt(lambda: socket.getaddrinfo("pypi.org", 443)),
}
print(json.dumps({"ok": any(v == "connected" for v in seen.values()), **seen}))
"""

SNOOP = """
import json, os
def read(path):
    try:
        with open(path, "rb") as f:
            return f"read {len(f.read())} bytes"
    except OSError as exc:
        return f"error: {type(exc).__name__}"
def listing(path):
    try:
        return f"listed {len(os.listdir(path))} entries"
    except OSError as exc:
        return f"error: {type(exc).__name__}"
seen = {
    "settings": read(SETTINGS),
    "database": read(DATABASE),
    "media": listing(MEDIA),
    "secrets": sorted(k for k in os.environ if k in ("SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL")),
}
leaked = seen["secrets"] or any(not v.startswith("error") for k, v in seen.items() if k != "secrets")
print(json.dumps({"ok": bool(leaked), **seen}))
"""

WRITE_ESCAPE = """
import json
def write(path):
    try:
        with open(path, "w") as f:
            f.write("escaped")
    except OSError as exc:
        return f"error: {type(exc).__name__}"
    return "written"
print(json.dumps({"ok": False, "writes": {path: write(path) for path in TARGETS}}))
"""

FORK_BOMB = """
import os, sys, time
children = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
        children += 1
except OSError as exc:
    print(f"fork failed after {children} children: {exc}", file=sys.stderr)
    raise SystemExit(3)
"""

MEMORY_HOG = """
chunks = []
while True:
    chunks.append(bytearray(64 * 1024 * 1024))
"""

ENDLESS_OUTPUT = """
while True:
    print("spam " * 200)
"""

SLEEP_FOREVER = """
import time
time.sleep(600)
"""


class PipelineTests(RealWorkersTestCase):
    redis_db = 10

    # --- the path of a normal upload ---

    def test_an_upload_goes_through_real_workers_and_the_sandbox_to_a_stored_result(self):
        self.client.force_login(self.owner)
        started = time.monotonic()
        response = self.client.post(
            f"/artifacts/{self.artifact.pk}/versions/new/",
            {"file": SimpleUploadedFile("main.py", OK_SCRIPT), "notes": "end to end"},
        )
        run = Run.objects.get()
        assert response["Location"] == run.get_absolute_url()
        run = self.finished(run)
        elapsed = time.monotonic() - started

        assert (run.status, run.verdict) == (Run.Status.SUCCEEDED, "passed"), run.message
        assert run.sandboxed is True and run.environment["sandbox"].startswith("bubblewrap")
        assert run.environment["submission_sha256"] == run.version.sha256
        assert run.environment["device_kind"] in ("cpu", "cuda") and run.environment["torch"]
        assert run.metrics == {"answer": 42} and run.tests[0]["status"] == "passed"
        assert run.score == 1.0 and run.duration_s is not None
        attempt = run.attempts.get()
        assert attempt.status == RunAttempt.Status.FINISHED and attempt.worker
        # Progress is advisory and may arrive after the result (then it is dropped), so only the
        # stages before grading are certain to be recorded.
        assert [s["stage"] for s in attempt.stages][:2] == ["received", "environment"]
        assert elapsed < 15, f"an idle runner took {elapsed:.1f} s"

        page = self.client.get(run.get_absolute_url(), headers={"HX-Request": "true"})
        assert b"hx-trigger" not in page.content and b"Succeeded" in page.content

        # The Django worker logs JSON lines, the task's name and id on the lines logged inside it.
        [filed] = [
            line
            for line in self.django_worker.json_lines()
            if line["message"].startswith(f"attempt {attempt.pk} result stored")
        ]
        assert filed["level"] == "INFO" and filed["logger"] == "portfolio.tasks"
        assert filed["task"] == protocol.TASK_RECORD_RESULT and filed["task_id"]
        [ran] = [
            line
            for line in self.runner_worker.json_lines()
            if line["message"] == f"attempt {attempt.pk}: completed / passed"
        ]
        assert ran["task"] == protocol.TASK_EXECUTE and ran["task_id"] == str(attempt.celery_task_id)

    def test_the_workers_use_this_passes_database_and_broker(self):
        """The suite's second pass must really run these on PostgreSQL and Redis, not fall back."""
        banner = self.django_worker.log.read_text(errors="replace")
        if suite_broker_is_redis():
            assert self.broker_url.startswith("redis://") and self.broker_url.endswith(f"/{self.redis_db}")
            [transport] = [line for line in banner.splitlines() if ".> transport:" in line]
            # Celery masks the password: redis://:**@host:port/db
            assert "redis://" in transport and transport.endswith(self.broker_url.split("://")[1].split("@")[-1])
            assert celery_app.connection_for_write().transport_cls == "redis"
        else:
            assert ".> transport:   portfolio.runner.fsbroker:Transport://" in banner, banner[:2000]
        if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
            assert connection.vendor == "postgresql"
            assert self.django_worker.env["DATABASE_URL"].startswith("postgres://")
        # Either way the worker wrote into this test's database: a run goes through.
        assert self.finished(self.submit(OK_SCRIPT)).status == Run.Status.SUCCEEDED

    # --- a result that arrives twice, or late ---

    def send_result(self, attempt_id: int, run_id: int, verdict: str) -> None:
        """What a runner sends at the end of a job (and what a broker may deliver twice)."""
        outcome = "completed"
        result = protocol.build_result(
            attempt_id=attempt_id, run_id=run_id, outcome=outcome, verdict=verdict, message="late", score=0.0
        )
        celery_app.send_task(protocol.TASK_RECORD_RESULT, args=[attempt_id, result], queue=protocol.QUEUE_DEFAULT)

    def test_the_same_result_delivered_again_through_the_worker_changes_nothing(self):
        run = self.finished(self.submit(OK_SCRIPT))
        assert run.status == Run.Status.SUCCEEDED, run.message
        attempt_id = run.current_attempt_id
        before = Run.objects.values().get(pk=run.pk)

        self.send_result(attempt_id, run.pk, "passed")  # the same message, redelivered
        self.send_result(attempt_id, run.pk, "failed")  # a contradicting copy
        self.wait_for("the worker to file both copies", lambda: len(self.results_filed(attempt_id)) >= 3)

        assert self.results_filed(attempt_id) == ["stored", "discarded", "discarded"]
        assert Run.objects.values().get(pk=run.pk) == before

    def test_a_zip_with_main_py_runs_too(self):
        run = self.finished(self.submit(make_zip({"main.py": OK_SCRIPT, "data/x.txt": b"1"}), "work.zip"))
        assert run.status == Run.Status.SUCCEEDED, run.message

    # --- hostile submissions ---
    def test_hostile_submissions_each_end_with_a_clear_verdict_and_a_healthy_worker(self):
        listener = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(listener.close)
        token = secrets.token_hex(6)
        outside = [
            REPO / f"escaped-{token}",
            Path(settings.MEDIA_ROOT) / f"escaped-{token}",
            Path(tempfile.gettempdir()) / f"escaped-{token}",
        ]
        database = Path(str(connection.settings_dict["NAME"]))
        runner_pid = self.runner_worker.proc.pid if self.runner_worker.proc else None
        scripts = {
            "network": NETWORK.replace("PORT", str(listener.getsockname()[1])),
            "snoop": SNOOP.replace("SETTINGS", repr(str(REPO / "config" / "settings.py")))
            .replace("DATABASE", repr(str(database)))
            .replace("MEDIA", repr(str(settings.MEDIA_ROOT))),
            "write": WRITE_ESCAPE.replace("TARGETS", repr([str(p) for p in outside])),
            "fork_bomb": FORK_BOMB,
            "memory_hog": MEMORY_HOG,
            "endless_output": ENDLESS_OUTPUT,
            "sleep_forever": SLEEP_FOREVER,
        }
        runs = {name: self.submit(code) for name, code in scripts.items()}
        runs["normal"] = self.submit(OK_SCRIPT)
        for name, run in runs.items():
            runs[name] = self.finished(run, timeout=60)
        got = {name: (run.status, run.verdict) for name, run in runs.items()}

        assert got == {
            "network": ("failed", "failed"),
            "snoop": ("failed", "failed"),
            "write": ("failed", "failed"),
            "fork_bomb": ("failed", "crash"),
            "memory_hog": ("failed", "memory"),
            "endless_output": ("failed", "output_limit"),
            "sleep_forever": ("timed_out", "timeout"),
            "normal": ("succeeded", "passed"),
        }, {name: run.message for name, run in runs.items()}
        network = runs["network"].metrics
        assert all(v.startswith("error") for v in network.values()), network
        snoop = runs["snoop"].metrics
        assert snoop["secrets"] == [] and all(snoop[k].startswith("error") for k in ("settings", "database", "media"))
        assert not any(p.exists() for p in outside)
        assert "fork failed after" in runs["fork_bomb"].log_tail
        assert "wall-clock limit of 5 s" in runs["sleep_forever"].message
        assert all(run.sandboxed for run in runs.values())
        assert all(run.attempts.count() == 1 for run in runs.values()), "the submission's failures are not retried"
        # The same worker process is still there and ran the normal job after all of them.
        assert self.runner_worker.alive and self.runner_worker.proc and self.runner_worker.proc.pid == runner_pid

    # --- a runner worker killed mid-run ---

    @override_settings(RUNNER_LIMITS={**LIMITS, "wall_s": 60})
    def test_killing_the_runner_mid_run_retries_the_run_then_marks_it_lost(self):
        run = self.submit(SLEEP_FOREVER)
        for number in (1, 2, 3):
            self.kill_runner_during(run, number)
            run.refresh_from_db()
            if number < 3:
                assert run.status == Run.Status.QUEUED and run.current_attempt.number == number + 1
                self.runner_worker.start()

        assert run.status == Run.Status.LOST and run.finished_at, run.message
        assert list(run.attempts.values_list("status", flat=True)) == ["lost"] * 3
        assert "Gave up after 3 attempts" in run.message

        # A restarted worker is healthy: it runs the next job normally.
        self.runner_worker.start()
        normal = self.finished(self.submit(OK_SCRIPT))
        assert normal.status == Run.Status.SUCCEEDED, normal.message

    @override_settings(RUNNER_LIMITS={**LIMITS, "wall_s": 60})
    def test_a_lost_attempt_is_retried_and_the_retry_can_succeed(self):
        run = self.submit(b"import json, time\ntime.sleep(2)\nprint(json.dumps({'ok': True}))\n")
        self.kill_runner_during(run, 1)
        self.runner_worker.start()
        run = self.finished(run)
        assert run.status == Run.Status.SUCCEEDED and run.current_attempt.number == 2, run.message
        assert list(run.attempts.values_list("status", flat=True)) == ["lost", "finished"]

        # The first attempt's result, arriving late (a runner that was slow, not dead), is discarded.
        first = RunAttempt.objects.get(run=run, number=1)
        before = Run.objects.values().get(pk=run.pk)
        self.send_result(first.pk, run.pk, "failed")
        self.wait_for("the worker to file the late result", lambda: self.results_filed(first.pk) == ["discarded"])
        assert Run.objects.values().get(pk=run.pk) == before
