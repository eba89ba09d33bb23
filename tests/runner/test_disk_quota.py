"""The per-job disk quota (portfolio/runner/sandbox/quota.py) against hostile submissions, end to
end through jobs.execute, the script grader and the real sandbox, in both of its modes: a tmpfs
mounted on the job folder (where the runner may mount, as root here) and polling (a runner without
CAP_SYS_ADMIN). Each hostile job must end with the verdict naming the limit, leave no mount behind,
and the next job must pass."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from portfolio.runner import archive, jobs, protocol
from portfolio.runner.sandbox import quota
from portfolio.runner.sandbox.config import DEFAULT_DISK_MB, DEFAULT_MAX_FILES, SandboxConfig, SandboxUnavailable
from tests.runner.conftest import hostile_payload, script_payload
from tests.runner.test_runner_worker import (  # noqa: F401 - fixtures
    broker_dir,
    collect_until_result,
    publisher,
    start_worker,
    worker_env,
)

pytestmark = [pytest.mark.sandbox, pytest.mark.runner_env]

DISK_MB = 16
MAX_FILES = 500


def can_mount() -> bool:
    folder = tempfile.mkdtemp(prefix="layerwise-mount-check-")
    try:
        quota.mount_tmpfs(Path(folder), size=1 << 20, nr_inodes=16)
    except OSError:
        return False
    else:
        quota.unmount(Path(folder))
        return True
    finally:
        os.rmdir(folder)


MOUNTABLE = can_mount()
MODES = [
    pytest.param(
        quota.MODE_MOUNT,
        marks=pytest.mark.skipif(not MOUNTABLE, reason="this runner may not mount (no CAP_SYS_ADMIN)"),
    ),
    quota.MODE_POLL,
]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("RUNNER_JOB_DISK_MB", str(DISK_MB))
    monkeypatch.setenv("RUNNER_JOB_MAX_FILES", str(MAX_FILES))
    monkeypatch.setenv("RUNNER_JOB_QUOTA", request.param)
    return request.param


@pytest.fixture
def jobs_root(work_root: Path) -> Path:
    return jobs.work_root(SandboxConfig.from_env())


@pytest.fixture
def nothing_left(jobs_root: Path, assert_healthy: Callable[[], None]) -> Callable[[], None]:
    """After a job: no mount and no job folder is left, and a normal job passes."""

    def check() -> None:
        assert quota.mounts_under(jobs_root) == []
        assert list(jobs_root.iterdir()) == []
        assert_healthy()
        assert quota.mounts_under(jobs_root) == []

    return check


def assert_stopped_for(result: dict[str, Any], reason: str) -> None:
    assert (result["outcome"], result["verdict"]) == ("submission_failed", "output_limit"), (
        result["message"],
        result["log_tail"],
    )
    assert result["message"] == f"the submission {reason} and was stopped (step 'main')"
    assert result["raw"]["steps"]["main"]["status"] == "output_limit"


def test_writing_past_the_byte_quota_in_one_file_is_stopped(mode: str, nothing_left: Callable[[], None]):
    # One 40 MiB file: the per-file cap (file_mb, 64) allows it, the job's quota (16 MiB) does not.
    result = jobs.execute(hostile_payload("diskfill.py", argv=[".", "40"], file_mb=64, wall_s=30))

    assert_stopped_for(result, f"wrote more than {DISK_MB} MiB to the job folder")
    assert result["raw"]["job_folder"]["quota"] == mode
    assert result["duration_s"] < 20
    nothing_left()


def test_writing_past_the_byte_quota_in_many_files_is_stopped(mode: str, nothing_left: Callable[[], None]):
    # 400 MiB in 2 MiB files, each well under every per-file cap, retrying when refused.
    result = jobs.execute(hostile_payload("diskfill.py", argv=[".", "400", "2"], wall_s=30))

    assert_stopped_for(result, f"wrote more than {DISK_MB} MiB to the job folder")
    if mode == quota.MODE_MOUNT:
        # The kernel refuses writes a little past the quota (room for the runner's own files).
        assert result["raw"]["job_folder"]["bytes"] <= (DISK_MB << 20) + quota.SLACK_BYTES
    nothing_left()


def test_too_many_empty_files_in_the_job_folder_are_stopped(mode: str, nothing_left: Callable[[], None]):
    result = jobs.execute(hostile_payload("manyfiles.py", argv=[".", "100000"], wall_s=30))

    assert_stopped_for(result, f"created more than {MAX_FILES:,} files in the job folder")
    if mode == quota.MODE_MOUNT:
        assert result["raw"]["job_folder"]["files"] <= MAX_FILES + quota.SLACK_FILES
    nothing_left()


@pytest.mark.parametrize("where", ["/tmp", "/dev/shm"])
def test_too_many_empty_files_in_the_sandboxes_tmpfs_are_stopped(
    mode: str, where: str, nothing_left: Callable[[], None]
):
    # Zero bytes, so the tmpfs's --size never stops them; each empty file still costs kernel memory.
    result = jobs.execute(hostile_payload("manyfiles.py", argv=[where, "1000000"], wall_s=60))

    assert_stopped_for(result, f"created more than {MAX_FILES:,} files in {where}")
    assert result["duration_s"] < 30
    nothing_left()


def test_use_within_the_quota_passes(mode: str, nothing_left: Callable[[], None]):
    written = jobs.execute(hostile_payload("diskfill.py", argv=[".", "10", "2"], wall_s=30))
    made = jobs.execute(hostile_payload("manyfiles.py", argv=["/tmp", "300"], wall_s=30))

    assert written["verdict"] == "passed", written["log_tail"]
    assert written["metrics"] == {"written_mib": 10, "refused": 0}
    assert made["verdict"] == "passed", made["log_tail"]
    assert made["metrics"] == {"made": 300}
    nothing_left()


# --- the mount's life ------------------------------------------------------------------------------

JOB_FS = """
import json, os
fs = [line.split()[2] for line in open("/proc/self/mounts") if line.split()[1] == "/job"]
st = os.statvfs("/job")
print(json.dumps({"ok": True, "fs": fs[-1] if fs else None, "size": st.f_blocks * st.f_frsize, "inodes": st.f_files}))
"""

needs_mount = pytest.mark.skipif(not MOUNTABLE, reason="this runner may not mount (no CAP_SYS_ADMIN)")


@needs_mount
def test_the_steps_see_a_tmpfs_of_the_quotas_size_that_is_gone_after_the_job(
    jobs_root: Path, nothing_left: Callable[[], None]
):
    seen_during: list[list[Path]] = []

    def progress(stage: str, detail: dict[str, Any]) -> None:
        if stage == "grading":
            seen_during.append(quota.mounts_under(jobs_root))

    result = jobs.execute(script_payload(JOB_FS), progress=progress)

    assert result["verdict"] == "passed", result["log_tail"]
    assert result["metrics"]["fs"] == "tmpfs"
    assert result["metrics"]["size"] == (DEFAULT_DISK_MB << 20) + quota.SLACK_BYTES
    assert result["metrics"]["inodes"] == DEFAULT_MAX_FILES + quota.SLACK_FILES
    [mounted] = seen_during
    assert [p.name for p in mounted] == ["steps"] and mounted[0].parent.name.startswith("attempt-")
    nothing_left()


@needs_mount
def test_no_mount_is_left_when_the_job_times_out_crashes_or_the_runner_fails(
    jobs_root: Path, monkeypatch: pytest.MonkeyPatch, nothing_left: Callable[[], None]
):
    timed_out = jobs.execute(hostile_payload("sleeper.py", argv=["layerwise-quota-sleeper"], wall_s=2))
    assert timed_out["verdict"] == "timeout"
    assert quota.mounts_under(jobs_root) == []

    crashed = jobs.execute(script_payload("raise SystemExit(3)\n"))
    assert crashed["verdict"] == "crash"
    assert quota.mounts_under(jobs_root) == []

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the disk went away (test)")

    monkeypatch.setattr(archive, "extract_to", broken)
    failed = jobs.execute(script_payload("print(1)\n"))
    assert (failed["outcome"], failed["verdict"]) == ("system_error", "error")
    assert "the disk went away" in failed["message"]
    monkeypatch.undo()
    nothing_left()


def _dead_pid() -> int:
    child = subprocess.Popen(["/usr/bin/true"])
    child.wait()
    return child.pid


@needs_mount
def test_a_job_folder_left_mounted_by_a_dead_runner_is_swept_and_a_live_ones_is_not(
    jobs_root: Path, nothing_left: Callable[[], None]
):
    stale = jobs_root / f"attempt-7-p{_dead_pid()}-stale" / quota.STEPS_NAME
    live = jobs_root / f"attempt-8-p{os.getppid()}-live" / quota.STEPS_NAME
    for steps in (stale, live):
        steps.mkdir(parents=True)
        quota.mount_tmpfs(steps, size=1 << 20, nr_inodes=16)
        (steps / "left.txt").write_text("from a runner that was killed")
    try:
        result = jobs.execute(script_payload('import json\nprint(json.dumps({"ok": True}))\n'))

        assert result["verdict"] == "passed", result["log_tail"]
        assert quota.mounts_under(jobs_root) == [live]
        assert not stale.parent.exists()
        assert (live / "left.txt").exists()  # another runner's job in progress is not touched
    finally:
        quota.unmount(live)
        for steps in (stale, live):
            if steps.parent.exists():
                for path in sorted(steps.parent.rglob("*"), reverse=True):
                    path.unlink() if path.is_file() else path.rmdir()
                steps.parent.rmdir()
    nothing_left()


@needs_mount
def test_forcing_the_mount_where_mounting_fails_is_a_sandbox_error(
    monkeypatch: pytest.MonkeyPatch, nothing_left: Callable[[], None]
):
    def refused(path: Path, *, size: int, nr_inodes: int) -> None:
        raise OSError(1, f"mount tmpfs on {path}: Operation not permitted")

    monkeypatch.setenv("RUNNER_JOB_QUOTA", "mount")
    monkeypatch.setattr(quota, "mount_tmpfs", refused)

    result = jobs.execute(script_payload("print(1)\n"))

    assert (result["outcome"], result["verdict"]) == ("system_error", "sandbox_error")
    assert "disk quota could not be set up" in result["message"]
    monkeypatch.undo()
    nothing_left()


# --- pieces ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RUNNER_JOB_DISK_MB", "lots"),
        ("RUNNER_JOB_DISK_MB", "0"),
        ("RUNNER_JOB_MAX_FILES", "-1"),
        ("RUNNER_JOB_QUOTA", "xfs"),
    ],
)
def test_a_bad_quota_setting_is_refused_naming_it(name: str, value: str):
    with pytest.raises(SandboxUnavailable, match=name):
        SandboxConfig.from_env({name: value})


def test_the_quota_settings_are_read():
    config = SandboxConfig.from_env(
        {"RUNNER_JOB_DISK_MB": "64", "RUNNER_JOB_MAX_FILES": "99", "RUNNER_JOB_QUOTA": "Poll"}
    )
    assert (config.disk_mb, config.max_files, config.quota_mode) == (64, 99, "poll")
    assert SandboxConfig.from_env({}).disk_mb == DEFAULT_DISK_MB


def test_counting_never_follows_a_link(tmp_path: Path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "data").write_bytes(b"x" * 100_000)
    os.link(tmp_path / "a" / "data", tmp_path / "a" / "same")  # one inode: its bytes count once
    (tmp_path / "root").symlink_to("/")
    (tmp_path / "usr").symlink_to("/usr", target_is_directory=True)

    usage = quota.count_tree(tmp_path, stop_files=10_000)

    assert usage.files == 5
    assert 100_000 <= usage.bytes < 200_000
    assert quota.count_tree(tmp_path, stop_files=2).files == 2


def test_messages_name_the_limit_and_its_figure():
    assert quota.exceeded_message("the job folder", quota.Usage(300 << 20, 1), 256 << 20, 10_000) == (
        "wrote more than 256 MiB to the job folder"
    )
    assert (
        quota.exceeded_message("/tmp", quota.Usage(0, 10_001), None, 10_000) == "created more than 10,000 files in /tmp"
    )
    assert quota.exceeded_message("/tmp", quota.Usage(256 << 20, 10_000), 256 << 20, 10_000) is None


def test_unmounting_what_is_not_mounted_is_harmless(tmp_path: Path):
    (tmp_path / "kept.txt").write_text("kept")
    quota.unmount(tmp_path)
    assert (tmp_path / "kept.txt").read_text() == "kept"


# --- through the real worker -----------------------------------------------------------------------


def test_a_real_worker_stops_a_disk_filler_and_then_passes_a_job(
    publisher: Celery,  # noqa: F811
    start_worker: Any,  # noqa: F811
    jobs_root: Path,
):
    start_worker({"RUNNER_JOB_DISK_MB": str(DISK_MB)})
    publisher.send_task(
        protocol.TASK_EXECUTE, args=[hostile_payload("diskfill.py", argv=[".", "400", "2"], wall_s=30)], queue="runner"
    )
    hostile = collect_until_result(publisher, 1, timeout=120)[-1][1][1]
    ok = script_payload('import json\nprint(json.dumps({"ok": True, "answer": 42}))\n', attempt_id=2)
    publisher.send_task(protocol.TASK_EXECUTE, args=[ok], queue="runner")
    after = collect_until_result(publisher, 2, timeout=120)[-1][1][1]

    assert (hostile["outcome"], hostile["verdict"]) == ("submission_failed", "output_limit"), hostile["log_tail"]
    assert f"wrote more than {DISK_MB} MiB to the job folder" in hostile["message"]
    assert (after["outcome"], after["verdict"]) == ("completed", "passed"), after["log_tail"]
    assert after["metrics"] == {"answer": 42}
    assert quota.mounts_under(jobs_root) == []


def test_folders_nested_past_the_depth_cap_count_as_past_the_quota(tmp_path: Path):
    deep = tmp_path
    for level in range(quota.MAX_DEPTH + 2):
        deep = deep / f"d{level}"
    deep.mkdir(parents=True)

    usage = quota.count_tree(tmp_path, stop_files=10_000)

    assert usage.too_deep and usage.files == quota.MAX_DEPTH
    assert (
        quota.exceeded_message("/tmp", usage, None, 10_000)
        == f"nested folders more than {quota.MAX_DEPTH} deep in /tmp"
    )
    shallow = quota.count_tree(tmp_path / "d0" / "d1" / "d2" / "d3" / "d4" / "d5", stop_files=10_000)
    assert not shallow.too_deep and shallow.files == quota.MAX_DEPTH - 4
