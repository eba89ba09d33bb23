"""The sandbox against hostile submissions, run end to end through jobs.execute and the script
grader. Each test checks the verdict, what the program could observe, and that a normal job
still passes afterwards."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from portfolio.runner import jobs
from portfolio.runner.protocol import Limits
from portfolio.runner.sandbox import launch
from portfolio.runner.sandbox.command import START_MARKER
from portfolio.runner.sandbox.config import SandboxConfig, SandboxUnavailable
from portfolio.runner.sandbox.outcome import SandboxResult
from tests.runner.conftest import REPO, TEST_SANDBOX_UID, hostile_payload

pytestmark = [pytest.mark.sandbox, pytest.mark.runner_env]


def processes_with(token: str) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                if token.encode() in f.read():
                    found.append(int(name))
        except OSError:
            continue
    return found


@pytest.fixture
def host_listener() -> Iterator[socket.socket]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.setblocking(False)
    yield server
    server.close()


@pytest.fixture
def planted_secret() -> Iterator[tuple[Path, str]]:
    """A world-readable secret outside the job folder: only the sandbox's mounts keep it hidden."""
    folder = Path(tempfile.mkdtemp(prefix="layerwise-secret-"))
    os.chmod(folder, 0o755)
    value = "planted-file-secret-" + secrets.token_hex(8)
    path = folder / "secret.txt"
    path.write_text(value)
    os.chmod(path, 0o644)
    yield path, value
    path.unlink()
    folder.rmdir()


def test_network_is_unreachable_from_the_sandbox(host_listener: socket.socket, assert_healthy: Callable[[], None]):
    port = host_listener.getsockname()[1]
    result = jobs.execute(hostile_payload("network.py", argv=[str(port)]))

    assert result["verdict"] == "passed", result["log_tail"]
    seen = result["metrics"]
    assert seen["tcp_host_loopback"].startswith("error: ConnectionRefusedError")
    assert seen["tcp_outside"].startswith("error:")
    assert "unreachable" in seen["tcp_outside"].lower()
    assert seen["tcp_outside_by_name"].startswith("error: gaierror")
    assert seen["dns"].startswith("error: gaierror")
    assert seen["interfaces"] == ["lo"]
    with pytest.raises(BlockingIOError):
        host_listener.accept()  # nothing reached the host's loopback
    assert_healthy()


def test_worker_secrets_and_host_files_are_invisible(
    planted_secret: tuple[Path, str],
    monkeypatch: pytest.MonkeyPatch,
    assert_healthy: Callable[[], None],
):
    secret_path, file_secret = planted_secret
    env_secret = "planted-env-secret-" + secrets.token_hex(8)
    monkeypatch.setenv("SECRET_KEY", env_secret)
    monkeypatch.setenv("DATABASE_URL", f"postgres://app:{env_secret}@db/app")

    result = jobs.execute(hostile_payload("snoop.py", argv=[str(REPO), str(secret_path)]))

    assert result["verdict"] == "passed", result["log_tail"]
    seen = result["metrics"]
    for path in (f"{REPO}/pyproject.toml", f"{REPO}/config/settings.py", "/etc/shadow", str(secret_path)):
        assert seen["files"][path].startswith("error:"), (path, seen["files"][path][:100])
    assert set(seen["environ"]) <= {
        "PATH",
        "HOME",
        "LANG",
        "TMPDIR",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "HF_HUB_OFFLINE",
        "PWD",
        "LC_CTYPE",
    }
    # Only the sandbox's own processes are visible (bwrap's init, the harness, the program).
    assert all(int(pid) < 10 for pid in seen["proc_environ"])
    assert seen["listings"]["/root"].startswith("error:")
    # Only the runner's interpreter is bound in; if it lives inside the repository, its folder is
    # all that shows there.
    venv = Path(os.path.abspath(os.environ["RUNNER_PYTHON"])).parents[1]  # not resolve(): bin/python is a symlink
    expected = [venv.relative_to(REPO).parts[0]] if venv.is_relative_to(REPO) else []
    visible = seen["listings"][str(REPO)]
    assert visible == expected or (not expected and str(visible).startswith("error:")), visible
    assert seen["listings"]["/opt/layerwise"] == ["harness"]
    assert seen["uid"] == (int(TEST_SANDBOX_UID) if os.geteuid() == 0 else os.getuid())
    everything = json.dumps(result)
    assert env_secret not in everything
    assert file_secret not in everything
    assert "DJANGO" not in everything
    assert_healthy()


def test_writes_outside_the_job_folder_fail(work_root: Path, assert_healthy: Callable[[], None]):
    # Beside the job folders on the host; inside the sandbox /tmp is a private tmpfs.
    host_target = work_root / f"escape-{secrets.token_hex(6)}.txt"

    result = jobs.execute(hostile_payload("write_escape.py", argv=[str(REPO), str(host_target)]))

    assert result["verdict"] == "passed", result["log_tail"]
    writes = result["metrics"]["writes"]
    refused = [
        "/usr/lib/escape.txt",
        "/etc/escape.txt",
        "/escape.txt",
        "submission/escape.txt",
        "/opt/layerwise/harness/escape.txt",
        str(host_target),
    ]
    # A checkout under /tmp (a clone made there) is inside the sandbox's private /tmp: bwrap makes
    # the runner environment's parent folders on that tmpfs, so the write lands there, never on the
    # host (asserted below). Anywhere else those folders are on the sandbox's read-only root.
    if Path("/tmp") not in REPO.parents:
        refused.append(f"{REPO}/escape.txt")
    for path in refused:
        assert writes[path].startswith("error:"), (path, writes[path])
    # Its own folder and its private /tmp are writable...
    assert writes["own.txt"] == writes["/tmp/escape.txt"] == "written"
    # ...and the private /tmp is not the host's.
    assert not host_target.exists()
    assert not (Path(tempfile.gettempdir()) / "escape.txt").exists()
    assert not (REPO / "escape.txt").exists()
    assert_healthy()


def test_a_fork_bomb_stops_at_the_process_limit(assert_healthy: Callable[[], None]):
    result = jobs.execute(hostile_payload("forkbomb.py", processes=24, wall_s=20))

    assert (result["outcome"], result["verdict"]) == ("submission_failed", "crash")
    assert "fork failed after" in result["log_tail"]
    assert "Resource temporarily unavailable" in result["log_tail"]
    children = int(result["log_tail"].split("fork failed after ")[1].split()[0])
    assert 5 < children < 24
    assert result["duration_s"] < 15
    assert_healthy()


def test_a_memory_hog_gets_the_memory_verdict(assert_healthy: Callable[[], None]):
    result = jobs.execute(hostile_payload("memhog.py", memory_mb=256))

    assert (result["outcome"], result["verdict"]) == ("submission_failed", "memory"), result["log_tail"]
    assert "MemoryError" in result["log_tail"]
    assert_healthy()


def test_endless_output_is_cut_at_the_output_limit(assert_healthy: Callable[[], None]):
    result = jobs.execute(hostile_payload("spew.py", output_kb=64, wall_s=20))

    assert (result["outcome"], result["verdict"]) == ("submission_failed", "output_limit")
    assert result["duration_s"] < 10
    step = result["raw"]["steps"]["main"]
    assert step["status"] == "output_limit"
    assert_healthy()


def test_sleeping_forever_times_out_and_the_whole_tree_is_killed(assert_healthy: Callable[[], None]):
    token = "layerwise-sleeper-" + secrets.token_hex(6)

    started = time.monotonic()
    result = jobs.execute(hostile_payload("sleeper.py", argv=[token], wall_s=3))
    elapsed = time.monotonic() - started

    assert (result["outcome"], result["verdict"]) == ("timed_out", "timeout")
    assert "wall-clock limit of 3 s" in result["message"]
    assert 3 <= elapsed < 8
    deadline = time.monotonic() + 2
    while processes_with(token) and time.monotonic() < deadline:
        time.sleep(0.1)  # the kernel tears the PID namespace down asynchronously
    assert processes_with(token) == []
    assert_healthy()


def test_a_cpu_hog_is_stopped_at_the_cpu_limit(assert_healthy: Callable[[], None]):
    result = jobs.execute(hostile_payload("cpuhog.py", cpu_s=1, wall_s=30))

    assert (result["outcome"], result["verdict"]) == ("timed_out", "timeout")
    assert "CPU-time limit of 1 s" in result["message"]
    assert result["raw"]["steps"]["main"]["signal"] == signal.SIGXCPU
    assert result["duration_s"] < 15
    assert_healthy()


def test_a_file_larger_than_the_file_limit_fails(assert_healthy: Callable[[], None]):
    result = jobs.execute(hostile_payload("bigfile.py", file_mb=4))

    assert (result["outcome"], result["verdict"]) == ("submission_failed", "crash")
    assert "File too large" in result["log_tail"]
    assert_healthy()


# --- the launcher itself -------------------------------------------------------------------------


@pytest.fixture
def work_dir(work_root: Path) -> Path:
    path = Path(tempfile.mkdtemp(dir=work_root))
    launch.prepare_work_dir(path, SandboxConfig.from_env())
    return path


def run_python(code: str, work_dir: Path, **limits: int) -> SandboxResult:
    config = SandboxConfig.from_env()
    return launch.run([config.python, "-c", code], work_dir=work_dir, limits=Limits(**limits), config=config)


def test_the_default_sandbox_user_is_nobody_when_the_worker_is_root():
    config = SandboxConfig.from_env({})

    if os.geteuid() == 0:
        assert (config.uid, config.gid) == (65534, 65534)
    else:
        assert config.uid is None  # bwrap then runs as the worker's own user


def test_root_is_refused_as_the_sandbox_user(monkeypatch: pytest.MonkeyPatch):
    if os.geteuid() != 0:
        pytest.skip("the sandbox uid is only configurable when the worker runs as root")

    with pytest.raises(SandboxUnavailable, match="must not be 0"):
        SandboxConfig.from_env({"RUNNER_SANDBOX_UID": "0"})


def test_probe_runs_a_command_and_reports_the_bwrap_version():
    result = launch.probe()

    assert result.ok
    assert result.version is not None and result.version.startswith("bubblewrap ")


def test_a_bwrap_setup_failure_is_a_sandbox_error_not_the_submissions(work_dir: Path):
    config = SandboxConfig.from_env()
    missing = str(work_dir / "does-not-exist")

    result = launch.run(
        [config.python, "-c", "print('never runs')"],
        work_dir=work_dir,
        limits=Limits(),
        ro_binds=[(missing, "/opt/missing")],
        config=config,
    )

    assert result.status == "sandbox_error"
    assert "before the command started" in result.message
    assert "bwrap:" in result.message


def test_a_program_imitating_bwrap_errors_is_still_its_own_failure(work_dir: Path):
    result = run_python("import sys; print('bwrap: Can\\'t mount proc', file=sys.stderr); sys.exit(1)", work_dir)

    assert result.status == "nonzero_exit"
    assert result.exit_code == 1
    assert result.stderr.startswith("bwrap: Can't mount proc")
    assert START_MARKER not in result.stderr


def test_a_program_that_closes_its_output_is_not_mistaken_for_finished(work_dir: Path):
    code = "import os, time; os.close(1); os.close(2); time.sleep(1); open('done', 'w').write('1')"

    result = run_python(code, work_dir)

    assert result.status == "ok"
    assert result.wall_s >= 1
    assert (work_dir / "done").read_text() == "1"


def test_peak_memory_and_cpu_time_are_sampled(work_dir: Path):
    code = (
        "import time\nx = b'x' * (120 * 1024 * 1024)\nt = time.process_time()\n"
        "while time.process_time() - t < 0.6: pass"
    )

    result = run_python(code, work_dir, memory_mb=1024)

    assert result.status == "ok"
    assert result.peak_rss_mb is not None and result.peak_rss_mb >= 115
    assert result.cpu_s is not None and result.cpu_s >= 0.3


def test_exit_statuses_and_signals_are_reported(work_dir: Path):
    exited = run_python("raise SystemExit(7)", work_dir)
    segv = run_python("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)", work_dir)

    assert (exited.status, exited.exit_code, exited.signal) == ("nonzero_exit", 7, None)
    assert (segv.status, segv.signal) == ("nonzero_exit", signal.SIGSEGV)
    assert "SIGSEGV" in segv.message


def test_an_unavailable_sandbox_refuses_to_run(work_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RUNNER_BWRAP", str(work_dir / "no-bwrap-here"))

    with pytest.raises(SandboxUnavailable, match="RUNNER_ALLOW_UNSANDBOXED"):
        run_python("print('hi')", work_dir)


def test_the_unsandboxed_fallback_is_explicit_and_still_limited(work_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RUNNER_BWRAP", str(work_dir / "no-bwrap-here"))
    monkeypatch.setenv("RUNNER_ALLOW_UNSANDBOXED", "1")
    monkeypatch.setenv("SECRET_KEY", "not-for-you")

    shown = run_python("import json, os; print(json.dumps(dict(os.environ)))", work_dir)
    hog = run_python("x = [bytearray(64 << 20) for _ in range(100)]", work_dir, memory_mb=256)

    assert shown.status == "ok" and shown.sandboxed is False
    assert "SECRET_KEY" not in json.loads(shown.stdout)
    assert hog.status == "memory"


def test_no_namespaces_can_be_made_inside_and_usr_local_is_empty(assert_healthy: Callable[[], None]):
    result = jobs.execute(hostile_payload("namespaces.py"))

    assert result["verdict"] == "passed", result["log_tail"]
    seen = result["metrics"]
    for attempt in ("user_namespace", "user_mount_network", "unshare_command"):
        assert seen[attempt].startswith("error:"), (attempt, seen[attempt])
    assert seen["usr_local"] == [], seen["usr_local"]
    assert_healthy()
