"""The whole run pipeline with real processes: upload -> Django (on commit) -> broker -> runner
worker -> bubblewrap sandbox -> broker -> Django worker -> the Run row.

Two real Celery workers are started per test class, each in its own session:

* the Django worker, `celery -A config worker -Q default` from the web app's environment, with
  DATABASE_URL pointing at this test run's database. That is why these classes set
  `shared_database = True`: tests/conftest.py then puts an SQLite test database in a file (under
  /dev/shm) instead of pytest-django's private in-memory one; PostgreSQL's test database is
  shared by name already;
* the runner worker, `celery -A portfolio.runner.celery_app worker -Q runner` from the runner's
  own environment (RUNNER_PYTHON's venv, with torch), started with an empty environment plus
  the broker and runner variables only: no SECRET_KEY, no DATABASE_URL.

They talk over the same broker as the test process: kombu's filesystem transport in a temporary
folder (or the Redis given by CELERY_BROKER_URL when the suite runs against servers). The test
process sends `runner.execute` itself, on commit, exactly as the web server does.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import TransactionTestCase, override_settings
from kombu import pools

from config.celery import app as celery_app
from portfolio.models import Artifact, Run, RunAttempt, reap_stale_attempts
from portfolio.runner import sandbox
from portfolio.uploads import inspect_file
from tests.factories import OK_SCRIPT, create_artifact_spec, create_user
from tests.portfolio.helpers import make_zip

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

REPO = Path(__file__).resolve().parents[2]
WEB_BIN = Path(sys.executable).parent
REQUIRE_RUNNER = bool(os.environ.get("LAYERWISE_REQUIRE_RUNNER"))
LIMITS = {"wall_s": 5, "cpu_s": 10, "memory_mb": 512, "processes": 32, "file_mb": 16, "output_kb": 64}
HEARTBEAT_S = 0.5
HEARTBEAT_TIMEOUT_S = 2


def runner_python() -> Path | None:
    """RUNNER_PYTHON (the Makefile exports it), else the checkout's .venv-runner."""
    path = Path(os.environ.get("RUNNER_PYTHON") or REPO / ".venv-runner/bin/python")
    return path if os.access(path, os.X_OK) else None


def skip_or_fail(reason: str) -> None:
    if REQUIRE_RUNNER:
        pytest.fail(f"{reason} (LAYERWISE_REQUIRE_RUNNER is set)")
    pytest.skip(reason)


def database_url() -> str:
    """This test run's database as a DATABASE_URL that config/settings.py understands."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        name = str(db["NAME"])
        if name == ":memory:" or name.startswith("file:"):
            pytest.fail("the test database is in memory: the shared_database switch in tests/conftest.py did not apply")
        return f"sqlite:///{name}"
    auth = quote(db["USER"] or "") + (":" + quote(db["PASSWORD"]) if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{quote(db['NAME'])}"


class Worker:
    """A real worker process in its own session: TERM goes to the main process only, then KILL
    to the whole group after 10 s (research: a TERM that reaches prefork children can deadlock)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while b" ready." not in self.log.read_bytes()[offset:]:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{self.name} did not start:\n{self.tail()}")
            time.sleep(0.05)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the worker and every process of its session, as an OOM killer or a crash would."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> None:
        if self.alive:
            assert self.proc is not None
            self.proc.terminate()

    def stop(self) -> None:
        if not self.alive:
            return
        assert self.proc is not None
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


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


@override_settings(
    RUNNER_GRADERS={"kv_calculator": ("script", "1")},
    RUNNER_LIMITS=LIMITS,
    RUNNER_HEARTBEAT_TIMEOUT_S=HEARTBEAT_TIMEOUT_S,
    RUNNER_MAX_QUEUED_PER_USER=20,
)
class PipelineTests(TransactionTestCase):
    shared_database = True
    django_worker: Worker
    runner_worker: Worker

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        python = runner_python()
        if python is None:
            skip_or_fail("the runner environment is missing: set RUNNER_PYTHON or create .venv-runner")
        probe = sandbox.probe(sandbox.SandboxConfig.from_env({"RUNNER_PYTHON": str(python)}))
        if not probe.ok:
            skip_or_fail(f"bubblewrap does not work here: {probe.reason}")
        # The sandbox user must be able to traverse down to its job folder.
        cls.tmp = Path(tempfile.mkdtemp(prefix="layerwise-e2e-"))
        os.chmod(cls.tmp, 0o711)
        broker_url = settings.CELERY_BROKER_URL
        broker_env = {"RUNNER_BROKER_DIR": str(cls.tmp / "broker")}
        if not broker_url.startswith("filesystem"):
            broker_env["CELERY_BROKER_URL"] = broker_url
        cls._use_broker(broker_url)
        django_env = {
            **os.environ,
            **broker_env,
            "DEBUG": "1",
            "DATABASE_URL": database_url(),
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "VAR_DIR": str(cls.tmp / "var"),
        }
        runner_env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(cls.tmp),
            "LANG": "C.UTF-8",
            "RUNNER_PYTHON": str(python),
            "RUNNER_WORK_DIR": str(cls.tmp / "jobs"),
            "RUNNER_HEARTBEAT_S": str(HEARTBEAT_S),
            **broker_env,
        }
        cls.django_worker = Worker(
            "django-worker",
            [
                str(WEB_BIN / "celery"),
                "-A",
                "config",
                "worker",
                "-Q",
                "default",
                "-c",
                "1",
                "--pool",
                "solo",
                "-n",
                f"django-e2e-{os.getpid()}@%h",
                "--loglevel",
                "INFO",
            ],
            django_env,
            cls.tmp / "django-worker.log",
        )
        cls.runner_worker = Worker(
            "runner-worker",
            [
                str(python.parent / "celery"),
                "-A",
                "portfolio.runner.celery_app",
                "worker",
                "-Q",
                "runner",
                "-c",
                "1",
                "-n",
                f"runner-e2e-{os.getpid()}@%h",
                "--loglevel",
                "INFO",
            ],
            runner_env,
            cls.tmp / "runner-worker.log",
        )
        try:
            cls.django_worker.start()
            cls.runner_worker.start()
        except BaseException:
            cls._stop_all()
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        cls._stop_all()
        super().tearDownClass()

    @classmethod
    def _stop_all(cls) -> None:
        workers = [w for w in (getattr(cls, "runner_worker", None), getattr(cls, "django_worker", None)) if w]
        for worker in workers:  # TERM both first: each takes seconds to shut down warm
            worker.terminate()
        for worker in workers:
            worker.stop()
        cls._use_broker(None)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def _use_broker(cls, broker_url: str | None) -> None:
        """Point this process's Celery app at the test broker (None: back to the settings)."""
        conf = celery_app.conf
        if broker_url is None:
            conf.broker_transport_options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        elif broker_url.startswith("filesystem"):
            folders = {name: cls.tmp / "broker" / name for name in ("out", "processed", "control")}
            for folder in folders.values():
                folder.mkdir(parents=True, exist_ok=True)
            conf.broker_transport_options = {
                "data_folder_in": str(folders["out"]),
                "data_folder_out": str(folders["out"]),
                "processed_folder": str(folders["processed"]),
                "control_folder": str(folders["control"]),
                "store_processed": False,
                "polling_interval": 0.1,
            }
        celery_app._after_fork()  # drop connections made with the old options
        pools.reset()

    # --- helpers ---

    def setUp(self) -> None:
        if not self.runner_worker.alive:  # a failed lost-worker test may leave it dead
            self.runner_worker.start()
        self.owner = create_user()
        self.artifact = Artifact.objects.create(
            owner=self.owner, spec=create_artifact_spec(kind="kv_calculator"), title="Pipeline"
        )

    def submit(self, code: str | bytes, filename: str = "main.py") -> Run:
        data = code.encode() if isinstance(code, str) else code
        new = self.artifact.add_version(inspect_file(filename, data), by=self.owner)
        assert new.run is not None, new.run_refused
        return new.run

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                self.fail(
                    f"timed out waiting for {what}\n--- django worker ---\n{self.django_worker.tail()}"
                    f"\n--- runner worker ---\n{self.runner_worker.tail()}"
                )
            time.sleep(0.1)

    def finished(self, run: Run, timeout: float = 30) -> Run:
        self.wait_for(f"run {run.pk} to finish", lambda: not Run.objects.get(pk=run.pk).is_active, timeout)
        run.refresh_from_db()
        return run

    def running(self, run: Run, number: int) -> RunAttempt:
        def started() -> bool:
            run.refresh_from_db()
            attempt = run.current_attempt
            return attempt is not None and attempt.number == number and attempt.status == RunAttempt.Status.RUNNING

        self.wait_for(f"attempt {number} of run {run.pk} to run", started)
        assert run.current_attempt is not None
        return run.current_attempt

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

    def kill_runner_during(self, run: Run, number: int) -> None:
        attempt = self.running(run, number)
        self.runner_worker.kill()
        self.wait_for(
            f"attempt {number}'s heartbeat to go stale",
            lambda: RunAttempt.objects.stale(seconds=HEARTBEAT_TIMEOUT_S).filter(pk=attempt.pk).exists(),
            timeout=HEARTBEAT_TIMEOUT_S + 10,
        )
        reaped = dict(reap_stale_attempts())
        assert reaped[attempt.pk] == ("retried" if number < 3 else "ended")

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
