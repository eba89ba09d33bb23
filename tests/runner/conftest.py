"""Fixtures for the runner tests. Nothing here needs Django: the runner package never imports it."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from portfolio.runner import protocol
from portfolio.runner.sandbox import launch, quota

REPO = Path(__file__).resolve().parents[2]
HOSTILE = Path(__file__).resolve().parent / "hostile"
DEFAULT_RUNNER_PYTHON = REPO / ".venv-runner" / "bin" / "python"
REQUIRE_RUNNER = bool(os.environ.get("LAYERWISE_REQUIRE_RUNNER"))
# RLIMIT_NPROC counts every process of the sandbox uid on the host, so the tests use a uid of
# their own: a job that another developer runs as `nobody` at the same time cannot skew them. Each
# pytest-xdist worker (bin/run-tests runs tests/runner on two) gets its own for the same reason.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
TEST_SANDBOX_UID = str(64123 + int(_XDIST_WORKER.removeprefix("gw") or 0))


def runner_python() -> str | None:
    configured = os.environ.get("RUNNER_PYTHON")
    if configured:
        return configured
    return str(DEFAULT_RUNNER_PYTHON) if DEFAULT_RUNNER_PYTHON.exists() else None


@pytest.fixture(autouse=True, scope="session")
def _test_settings() -> None:
    """Replaces tests/conftest.py's Django settings fixture: these tests must run without Django
    settings (for example with -p no:django on a runner host)."""


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """Replaces tests/conftest.py's: no Django cache here either."""


@pytest.fixture(scope="session")
def work_root() -> Iterator[Path]:
    # Not pytest's tmp_path: that is mode 0700 under /tmp/pytest-of-root, and bwrap runs as the
    # sandbox user, which must be able to reach the job folder to bind it.
    root = Path(tempfile.mkdtemp(prefix="layerwise-runner-tests-"))
    os.chmod(root, 0o711)
    yield root
    quota.sweep(root / "jobs")  # a job folder a killed worker left mounted
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(autouse=True)
def runner_settings(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, work_root: Path) -> None:
    python = runner_python()
    needs_runner = request.node.get_closest_marker("runner_env") or request.node.get_closest_marker("sandbox")
    if needs_runner and (python is None or not os.access(python, os.X_OK)):
        reason = f"the runner env is missing: set RUNNER_PYTHON or create {DEFAULT_RUNNER_PYTHON}"
        if REQUIRE_RUNNER:
            pytest.fail(reason + " (LAYERWISE_REQUIRE_RUNNER is set)")
        pytest.skip(reason)
    if python:
        monkeypatch.setenv("RUNNER_PYTHON", python)
    monkeypatch.setenv("RUNNER_WORK_DIR", str(work_root / "jobs"))
    monkeypatch.delenv("RUNNER_ALLOW_UNSANDBOXED", raising=False)
    monkeypatch.delenv("RUNNER_BWRAP", raising=False)
    monkeypatch.setenv("RUNNER_SANDBOX_UID", TEST_SANDBOX_UID)
    monkeypatch.setenv("RUNNER_SANDBOX_GID", TEST_SANDBOX_UID)
    if request.node.get_closest_marker("sandbox"):
        result = launch.probe()
        if not result.ok:
            if REQUIRE_RUNNER:
                pytest.fail(f"bubblewrap does not work here: {result.reason}")
            pytest.skip(f"bubblewrap does not work here: {result.reason}")


def script_payload(
    code: str | bytes,
    *,
    filename: str = "main.py",
    attempt_id: int = 1,
    argv: list[str] | None = None,
    **limits: int,
) -> dict[str, Any]:
    data = code.encode() if isinstance(code, str) else code
    return protocol.make_payload(
        attempt_id=attempt_id,
        run_id=attempt_id,
        attempt=1,
        grader="script",
        grader_version="1",
        filename=filename,
        data=data,
        params={"argv": argv} if argv else {},
        limits=limits,
    )


def hostile_payload(name: str, *, argv: list[str] | None = None, **limits: int) -> dict[str, Any]:
    return script_payload((HOSTILE / name).read_bytes(), filename=name, argv=argv, **limits)


OK_PROGRAM = 'import json\nprint(json.dumps({"ok": True, "answer": 6 * 7}))\n'


@pytest.fixture
def assert_healthy() -> Callable[[], None]:
    """Run a normal job: after a hostile one, the sandbox must still work."""
    from portfolio.runner import jobs

    def check() -> None:
        result = jobs.execute(script_payload(OK_PROGRAM, attempt_id=999))
        assert (result["outcome"], result["verdict"]) == ("completed", "passed"), result["log_tail"]
        assert result["metrics"] == {"answer": 42}

    return check


def last_json_line(text: str) -> dict[str, Any]:
    return json.loads([line for line in text.splitlines() if line.strip()][-1])
