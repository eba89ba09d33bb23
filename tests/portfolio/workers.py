"""Real Celery workers for end-to-end tests: upload -> Django (on commit) -> broker -> runner
worker -> bubblewrap sandbox -> broker -> Django worker -> the Run row.

A RealWorkersTestCase starts two worker processes per class, each in its own session:

* the Django worker, `celery -A config worker -Q default` from the web app's environment, with
  DATABASE_URL pointing at this test run's database (hence `shared_database = True`:
  tests/conftest.py then puts an SQLite test database in a file instead of in memory;
  PostgreSQL's test database is shared by name already);
* the runner worker, `celery -A portfolio.runner.celery_app worker -Q runner` from the runner's
  own environment (RUNNER_PYTHON's venv, with torch), started with an empty environment plus the
  broker and runner variables only: no SECRET_KEY, no DATABASE_URL.

Both log JSON lines (LOG_FORMAT=json), which the tests read. They talk over the broker `broker()` chooses: by default the suite's own kind, so the suite's two
passes exercise both: a filesystem broker in a temporary folder, or, when CELERY_BROKER_URL is
Redis, that Redis server with a database number of the class's own (`redis_db`, emptied first),
so no message from another class or an earlier run can reach these workers. The test process
sends `runner.execute` itself, on commit, exactly as the web server does.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test import TransactionTestCase, override_settings

from accounts.models import User
from portfolio.models import Artifact, Run, RunAttempt, reap_stale_attempts
from portfolio.runner.sandbox import launch
from portfolio.runner.sandbox.config import SandboxConfig
from portfolio.uploads import inspect_file
from tests.brokers import filesystem_options, redis_db_url, suite_broker_is_redis, use_broker
from tests.factories import create_artifact_spec, create_user

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

    def json_lines(self) -> list[dict[str, Any]]:
        """The log's JSON lines (LOG_FORMAT=json); Celery's start-up banner is plain text."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@override_settings(
    RUNNER_GRADERS={"kv_calculator": ("script", "1")},
    RUNNER_LIMITS=LIMITS,
    RUNNER_HEARTBEAT_TIMEOUT_S=HEARTBEAT_TIMEOUT_S,
    RUNNER_MAX_QUEUED_PER_USER=20,
)
class RealWorkersTestCase(TransactionTestCase):
    shared_database = True
    redis_db: ClassVar[int] = 10
    tmp: ClassVar[Path]
    broker_url: ClassVar[str]
    django_worker: ClassVar[Worker]
    runner_worker: ClassVar[Worker]

    @classmethod
    def setUpClass(cls) -> None:
        # Checked before super().setUpClass(): a skip raised after it would leave the class's
        # override_settings on for the rest of the session (pytest's skip is not an Exception,
        # so unittest's class cleanups never run).
        python = runner_python()
        if python is None:
            skip_or_fail("the runner environment is missing: set RUNNER_PYTHON or create .venv-runner")
        assert python is not None
        probe = launch.probe(SandboxConfig.from_env({"RUNNER_PYTHON": str(python)}))
        if not probe.ok:
            skip_or_fail(f"bubblewrap does not work here: {probe.reason}")
        cls.check_requirements()
        super().setUpClass()
        # The sandbox user must be able to traverse down to its job folder.
        cls.tmp = Path(tempfile.mkdtemp(prefix="layerwise-e2e-"))
        os.chmod(cls.tmp, 0o711)
        try:
            cls.broker_url = cls.broker()
            cls._start_workers(python)
        except BaseException:
            cls._stop_all()
            raise

    @classmethod
    def check_requirements(cls) -> None:
        """Skip here, before any class state exists, when something the class needs is missing."""

    @classmethod
    def broker(cls) -> str:
        """The broker URL for this class's workers (see the module's docstring)."""
        if suite_broker_is_redis():
            url = redis_db_url(settings.CELERY_BROKER_URL, cls.redis_db)
            redis.Redis.from_url(url).flushdb()
            return url
        return "filesystem://"

    @classmethod
    def _start_workers(cls, python: Path) -> None:
        if cls.broker_url.startswith("filesystem"):
            options = filesystem_options(cls.tmp / "broker")
            for key in ("data_folder_out", "processed_folder", "control_folder"):
                Path(str(options[key])).mkdir(parents=True, exist_ok=True)
            broker_env = {"RUNNER_BROKER_DIR": str(cls.tmp / "broker"), "CELERY_BROKER_URL": "filesystem://"}
        else:
            options = {"visibility_timeout": int(settings.RUNNER_HARD_LIMIT_S * 1.1)}
            broker_env = {"CELERY_BROKER_URL": cls.broker_url}
        cls._broker = use_broker(cls.broker_url, options)
        cls._broker.__enter__()
        django_env = {
            **os.environ,
            **broker_env,
            "DEBUG": "1",
            "LOG_FORMAT": "json",
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
            "LOG_FORMAT": "json",
            **broker_env,
        }
        tag = f"{cls.__name__.lower()}-{os.getpid()}"
        cls.django_worker = Worker(
            "django-worker",
            [str(WEB_BIN / "celery"), "-A", "config", "worker", "-Q", "default", "-c", "1", "--pool", "solo"]
            + ["-n", f"django-{tag}@%h", "--loglevel", "INFO"],
            django_env,
            cls.tmp / "django-worker.log",
        )
        cls.runner_worker = Worker(
            "runner-worker",
            [str(python.parent / "celery"), "-A", "portfolio.runner.celery_app", "worker", "-Q", "runner", "-c", "1"]
            + ["-n", f"runner-{tag}@%h", "--loglevel", "INFO"],
            runner_env,
            cls.tmp / "runner-worker.log",
        )
        cls.django_worker.start()
        cls.runner_worker.start()

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
        artifacts = os.environ.get("TEST_ARTIFACTS")
        if artifacts:  # bin/run-tests keeps the workers' logs, for a failure seen only in CI
            for worker in workers:
                if worker.log.exists():
                    shutil.copy(worker.log, Path(artifacts) / f"{cls.__name__}-{worker.name}.log")
        broker = cls.__dict__.get("_broker")
        if broker is not None:
            broker.__exit__(None, None, None)
            del cls._broker
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # --- helpers ---

    def setUp(self) -> None:
        super().setUp()
        if not self.runner_worker.alive:  # a failed lost-worker test may leave it dead
            self.runner_worker.start()

    # Made on first use: a class that brings its own people and content (the browser journeys)
    # gets no stray learner or roadmap on its pages.
    @cached_property
    def owner(self) -> User:
        return create_user()

    @cached_property
    def artifact(self) -> Artifact:
        return Artifact.objects.create(
            owner=self.owner, spec=create_artifact_spec(kind="kv_calculator"), title="Pipeline"
        )

    def submit(self, code: str | bytes, filename: str = "main.py") -> Run:
        data = code.encode() if isinstance(code, str) else code
        new = self.artifact.add_version(inspect_file(filename, data), by=self.owner)
        assert new.run is not None, new.run_refused
        return new.run

    def wait_for(
        self, what: str, check: Callable[[], bool], timeout: float = 30, every: Callable[[], object] | None = None
    ) -> None:
        """Poll `check` until it is true; `every` runs on each poll (a reaper standing in for beat)."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                self.fail(
                    f"timed out waiting for {what}\n--- django worker ---\n{self.django_worker.tail()}"
                    f"\n--- runner worker ---\n{self.runner_worker.tail()}"
                )
            if every is not None:
                every()
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

    def results_filed(self, attempt_id: int) -> list[str]:
        """What the Django worker did with each result for the attempt (stored, discarded...),
        from its JSON log lines."""
        prefix = f"attempt {attempt_id} result "
        return [
            line["message"][len(prefix) :].split(" ")[0]
            for line in self.django_worker.json_lines()
            if line.get("logger") == "portfolio.tasks" and line["message"].startswith(prefix)
        ]
