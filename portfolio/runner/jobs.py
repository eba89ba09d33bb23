"""One job, start to finish: payload in, result dict out. Never raises.

Called by the Celery task `runner.execute` (celery_app.py) and directly by tests.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from portfolio.runner import archive, environment, graders, protocol
from portfolio.runner.graders.base import GradeContext, GradeReport
from portfolio.runner.sandbox import launch, quota
from portfolio.runner.sandbox.config import SandboxConfig, SandboxUnavailable

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, dict[str, Any]], None]

WORK_DIR_MODE = 0o711  # the sandbox user must traverse it to reach its own step folder, not list it


def execute(payload: object, *, progress: ProgressCallback | None = None) -> dict[str, Any]:
    """Validate, unpack and grade one submission; return the result dict of README.md."""
    started = time.monotonic()
    ids = ids_of(payload)
    report = _Reporter(progress)
    try:
        return _execute(payload, report, started)
    except Exception as exc:
        log.exception("job for attempt %s failed unexpectedly", ids[0])
        return protocol.system_error(
            message=f"the runner failed unexpectedly: {type(exc).__name__}: {exc}",
            attempt_id=ids[0],
            run_id=ids[1],
            log_tail=traceback.format_exc(),
            duration_s=time.monotonic() - started,
            sandboxed=False,
        )


def _execute(raw: object, report: _Reporter, started: float) -> dict[str, Any]:
    attempt_id, run_id = ids_of(raw)
    report("received")

    def fail(message: str, *, verdict: str = protocol.VERDICT_ERROR, **rest: Any) -> dict[str, Any]:
        result = protocol.system_error(
            message=message,
            verdict=verdict,
            attempt_id=attempt_id,
            run_id=run_id,
            duration_s=time.monotonic() - started,
            **{"sandboxed": False, **rest},
        )
        report("finished", outcome=result["outcome"], verdict=result["verdict"])
        return result

    try:
        payload = protocol.validate_payload(raw)
    except protocol.SubmissionRefused as exc:
        # The web refuses such uploads already (portfolio/uploads.py, the same limits); one that
        # still arrives is the submission's failure, reported now, not retried as ours.
        result = protocol.submission_failed(
            verdict=protocol.VERDICT_INVALID_SUBMISSION,
            message=f"the upload was refused: {exc}",
            attempt_id=attempt_id,
            run_id=run_id,
            duration_s=time.monotonic() - started,
            sandboxed=False,
        )
        report("finished", outcome=result["outcome"], verdict=result["verdict"])
        return result
    except protocol.PayloadError as exc:
        return fail(f"bad job payload: {exc}")
    actual = archive.content_sha256(payload.submission.data)
    if actual != payload.submission.sha256:
        return fail(
            f"the submission's bytes do not match its sha256 (expected {payload.submission.sha256}, "
            f"got {actual}): it was damaged on the way; the attempt will be retried"
        )
    try:
        grader = graders.get(payload.grader)
    except graders.UnknownGrader as exc:
        return fail(str(exc))
    if grader.version != payload.grader_version:
        return fail(
            f"grader {payload.grader!r} is version {grader.version} on this runner but the job asks for "
            f"version {payload.grader_version}; deploy matching versions of the web app and the runner"
        )
    try:
        config = SandboxConfig.from_env()
        sandboxed = launch.ensure_available(config)
    except SandboxUnavailable as exc:
        return fail(str(exc), verdict=protocol.VERDICT_SANDBOX_ERROR)
    report("environment")
    env = environment.collect(config)
    env.update(
        grader=grader.name,
        grader_version=grader.version,
        sandbox=launch.sandbox_label(config) if sandboxed else "unsandboxed",
        sandboxed=sandboxed,
        submission_sha256=actual,
    )
    common = {
        "attempt_id": attempt_id,
        "run_id": run_id,
        "environment": env,
        "sandboxed": sandboxed,
    }
    try:
        job_dir = _make_job_dir(attempt_id, config)
    except SandboxUnavailable as exc:
        return fail(str(exc), verdict=protocol.VERDICT_SANDBOX_ERROR, environment=env)
    # The steps' folders share one disk quota (sandbox/quota.py); the stack unmounts it (when it
    # is a mount) before the folder is removed, on every way out.
    stack = contextlib.ExitStack()
    try:
        try:
            folder = stack.enter_context(
                quota.job_folder(job_dir, mode=config.quota_mode, disk_mb=config.disk_mb, max_files=config.max_files)
            )
        except OSError as exc:
            return fail(
                f"the job folder's disk quota could not be set up: {exc}",
                verdict=protocol.VERDICT_SANDBOX_ERROR,
                environment=env,
            )
        return _run_job(payload, grader, report, started, job_dir, folder, common, sandboxed, config)
    finally:
        stack.close()
        shutil.rmtree(job_dir, ignore_errors=True)


def _run_job(
    payload: protocol.Payload,
    grader: Any,
    report: _Reporter,
    started: float,
    job_dir: Path,
    folder: quota.JobFolder,
    common: dict[str, Any],
    sandboxed: bool,
    config: SandboxConfig,
) -> dict[str, Any]:
    submission_dir = job_dir / "submission"
    try:
        info = archive.extract_to(submission_dir, payload.submission.filename, payload.submission.data)
    except archive.UnsafeArchive as exc:
        result = protocol.submission_failed(
            verdict=protocol.VERDICT_INVALID_SUBMISSION,
            message=f"the upload was refused: {exc}",
            duration_s=time.monotonic() - started,
            **common,
        )
        report("finished", outcome=result["outcome"], verdict=result["verdict"])
        return result
    report("unpacked", files=len(info.files), bytes=info.total_uncompressed)
    ctx = GradeContext(
        job_dir=job_dir,
        submission_dir=submission_dir,
        params=payload.params,
        limits=payload.limits,
        config=config,
        progress=lambda stage, detail: report(stage, **detail),
    )
    report("grading", grader=grader.name)
    try:
        grade = grader.grade(ctx)
    except SandboxUnavailable as exc:
        grade = GradeReport.system_error(str(exc), verdict=protocol.VERDICT_SANDBOX_ERROR)
    except Exception as exc:
        ctx.log(traceback.format_exc())
        grade = GradeReport.system_error(f"the grader {grader.name!r} crashed: {type(exc).__name__}: {exc}")
    result = protocol.build_result(
        outcome=grade.outcome,
        verdict=grade.verdict,
        message=grade.message,
        score=grade.score,
        max_score=grade.max_score,
        tests=grade.tests,
        metrics=grade.metrics,
        raw={**grade.raw, "steps": {s.name: s.result.summary() for s in ctx.steps}, "job_folder": _usage(folder)},
        log_tail=ctx.log_text,
        duration_s=time.monotonic() - started,
        **{**common, "sandboxed": sandboxed and ctx.sandboxed},
    )
    report("finished", outcome=result["outcome"], verdict=result["verdict"])
    return result


def work_root(config: SandboxConfig | None = None) -> Path:
    """RUNNER_WORK_DIR, or a folder in the system temp dir; searchable (not listable) by others,
    because bwrap runs as the sandbox user and must reach the job folder to bind it."""
    root = Path(os.environ.get("RUNNER_WORK_DIR") or Path(tempfile.gettempdir()) / "layerwise-runner")
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, WORK_DIR_MODE)
    if config is not None and config.uid is not None:
        _check_searchable(root.resolve(), config.uid)
    return root


def _check_searchable(root: Path, uid: int) -> None:
    for folder in (root, *root.parents):
        info = folder.stat()
        if info.st_uid != uid and not info.st_mode & stat.S_IXOTH:
            raise SandboxUnavailable(
                f"{folder} is not searchable by the sandbox user {uid}, so bwrap cannot reach the job "
                "folders: set RUNNER_WORK_DIR to a folder whose parents are all o+x"
            )


def _usage(folder: quota.JobFolder) -> dict[str, Any]:
    """What the steps left in the job folder at the end, and how the quota was held."""
    try:
        usage = folder.usage()
    except OSError:
        return {"quota": folder.mode}
    return {"quota": folder.mode, "bytes": usage.bytes, "files": usage.files}


def _make_job_dir(attempt_id: int | None, config: SandboxConfig) -> Path:
    root = work_root(config)
    # A runner killed mid-job (SIGKILL, power loss) leaves its job folder mounted: clear those first.
    quota.sweep(root)
    # The pid in the name tells the sweep whose folder it is.
    job_dir = Path(tempfile.mkdtemp(prefix=f"attempt-{attempt_id}-p{os.getpid()}-", dir=root))
    os.chmod(job_dir, WORK_DIR_MODE)
    return job_dir


def ids_of(payload: object) -> tuple[int | None, int | None]:
    """attempt_id and run_id when they are usable, so even a refused payload's result can be filed."""
    if not isinstance(payload, dict):
        return None, None
    found = []
    for key in ("attempt_id", "run_id"):
        value = payload.get(key)
        found.append(value if isinstance(value, int) and not isinstance(value, bool) else None)
    return found[0], found[1]


class _Reporter:
    """Calls the progress callback without ever letting it break the job."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self.callback = callback

    def __call__(self, stage: str, **detail: Any) -> None:
        if self.callback is None:
            return
        try:
            self.callback(stage, detail)
        except Exception:
            log.exception("progress callback failed at stage %s", stage)
