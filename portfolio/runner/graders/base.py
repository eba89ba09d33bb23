"""What a grader is, and the context it grades in.

A grader turns one submission into a GradeReport by running one or more sandboxed steps through
`GradeContext.run`. Each step is a harness script run as
``RUNNER_PYTHON -I <script> input.json output.json`` in its own folder and its own sandbox, so
a step that runs learner code never sees another step's files (README.md, "Harness scripts"):

    class KVGrader:
        name, version = "kv_calculator", "1"

        def grade(self, ctx: GradeContext) -> GradeReport:
            learner, answers = ctx.run("learner", [LEARNER_HARNESS], input={"configs": cases})
            if failed := ctx.failure(learner, step="learner"):
                return failed
            truth, expected = ctx.run("truth", [TRUTH_HARNESS], input={"configs": cases},
                                      learner_code=False)
            if failed := ctx.failure(truth, step="truth", learner_code=False):
                return failed
            ...compare answers with expected...
            return GradeReport.completed(verdict=..., message=..., score=..., tests=[...])
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import stat
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from portfolio.runner import protocol
from portfolio.runner.protocol import Limits
from portfolio.runner.sandbox import launch
from portfolio.runner.sandbox.command import CODE_MOUNT, JOB_MOUNT
from portfolio.runner.sandbox.config import SandboxConfig
from portfolio.runner.sandbox.outcome import (
    STATUS_CPU_LIMIT,
    STATUS_KILLED,
    STATUS_MEMORY,
    STATUS_NONZERO_EXIT,
    STATUS_OUTPUT_LIMIT,
    STATUS_SANDBOX_ERROR,
    STATUS_TIMEOUT,
    SandboxResult,
)

log = logging.getLogger(__name__)

ProgressFn = Callable[[str, dict[str, Any]], None]

RUNNER_PACKAGE_DIR = Path(__file__).resolve().parents[1]
PORTFOLIO_INIT = RUNNER_PACKAGE_DIR.parent / "__init__.py"
# Bound beside every script that runs learner code (harness/common.py says how they import it).
HARNESS_COMMON = RUNNER_PACKAGE_DIR / "harness" / "common.py"
INPUT_NAME = "input.json"
OUTPUT_NAME = "output.json"
PROGRESS_NAME = "progress.jsonl"
SUBMISSION_NAME = "submission"
HANDOVER_NAME = "handover"
MAX_HANDOVER_BYTES = 256 * 1024 * 1024
MAX_OUTPUT_BYTES = 32 * 1024 * 1024
MAX_PROGRESS_LINES_PER_STEP = 200
MAX_PROGRESS_LINE_BYTES = 2048
STEP_LOG_STDOUT_CHARS = 2000
STEP_LOG_STDERR_CHARS = 4000
_STEP_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


@dataclass
class GradeReport:
    """What a grader concludes. jobs.execute adds ids, environment, duration and the log tail."""

    outcome: str
    verdict: str
    message: str
    score: float | None = None
    max_score: float | None = None
    tests: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        protocol.check_outcome_verdict(self.outcome, self.verdict)

    @classmethod
    def completed(cls, *, verdict: str, message: str, **rest: Any) -> GradeReport:
        return cls(protocol.OUTCOME_COMPLETED, verdict, message, **rest)

    @classmethod
    def invalid_submission(cls, message: str, **rest: Any) -> GradeReport:
        return cls(
            protocol.OUTCOME_SUBMISSION_FAILED,
            protocol.VERDICT_INVALID_SUBMISSION,
            message,
            **rest,
        )

    @classmethod
    def system_error(cls, message: str, *, verdict: str = protocol.VERDICT_ERROR, **rest: Any) -> GradeReport:
        return cls(protocol.OUTCOME_SYSTEM_ERROR, verdict, message, **rest)

    @classmethod
    def compared(
        cls, outcome: Mapping[str, Any], *, metrics: Mapping[str, Any], raw: Mapping[str, Any] | None = None
    ) -> GradeReport:
        """The report of a case-by-case grader: `outcome` is its grade.compare's (verdict, message,
        score, max_score, tests, metrics), `metrics` the grader's own, added after the outcome's."""
        return cls.completed(
            verdict=outcome["verdict"],
            message=outcome["message"],
            score=outcome["score"],
            max_score=outcome["max_score"],
            tests=outcome["tests"],
            metrics={**outcome["metrics"], **metrics},
            raw=dict(raw or {}),
        )


# How a failed step maps onto the result contract, when the step ran learner code.
_LEARNER_FAILURES: dict[str, tuple[str, str]] = {
    STATUS_TIMEOUT: (protocol.OUTCOME_TIMED_OUT, protocol.VERDICT_TIMEOUT),
    STATUS_CPU_LIMIT: (protocol.OUTCOME_TIMED_OUT, protocol.VERDICT_TIMEOUT),
    STATUS_MEMORY: (
        protocol.OUTCOME_SUBMISSION_FAILED,
        protocol.VERDICT_MEMORY,
    ),
    STATUS_OUTPUT_LIMIT: (
        protocol.OUTCOME_SUBMISSION_FAILED,
        protocol.VERDICT_OUTPUT_LIMIT,
    ),
    STATUS_NONZERO_EXIT: (
        protocol.OUTCOME_SUBMISSION_FAILED,
        protocol.VERDICT_CRASH,
    ),
    STATUS_KILLED: (protocol.OUTCOME_SUBMISSION_FAILED, protocol.VERDICT_CRASH),
    STATUS_SANDBOX_ERROR: (
        protocol.OUTCOME_SYSTEM_ERROR,
        protocol.VERDICT_SANDBOX_ERROR,
    ),
}


def report_for_step(result: SandboxResult, *, step: str, learner_code: bool = True) -> GradeReport | None:
    """None when the step succeeded; otherwise the report that says whose failure it was.

    A step that ran only our own code (learner_code=False) failing is always our failure
    (system_error, retried by Django), even if it timed out or ran out of memory.
    """
    if result.ok:
        return None
    if result.status == STATUS_SANDBOX_ERROR:
        return GradeReport.system_error(f"step {step!r}: {result.message}", verdict=protocol.VERDICT_SANDBOX_ERROR)
    if not learner_code:
        return GradeReport.system_error(f"the grader's own step {step!r} failed: {result.message}")
    outcome, verdict = _LEARNER_FAILURES[result.status]
    return GradeReport(outcome, verdict, f"the submission {result.message} (step {step!r})")


class Grader(Protocol):
    name: str
    version: str

    def grade(self, ctx: GradeContext) -> GradeReport: ...


@dataclass
class StepRecord:
    name: str
    learner_code: bool
    result: SandboxResult
    output: dict[str, Any] | None


class GradeContext:
    """The job as a grader sees it: where the submission is, its params and limits, and `run`.

    `limits.wall_s` is the budget of ALL steps together: each step gets at most what is left.
    """

    def __init__(
        self,
        *,
        job_dir: Path,
        submission_dir: Path,
        params: Mapping[str, Any],
        limits: Limits,
        config: SandboxConfig,
        progress: ProgressFn | None = None,
    ) -> None:
        self.job_dir = job_dir
        self.submission_dir = submission_dir
        self.params = dict(params)
        self.limits = limits
        self.config = config
        self.steps: list[StepRecord] = []
        self._progress = progress
        self._log: list[str] = []
        self._deadline = time.monotonic() + limits.wall_s

    @property
    def sandboxed(self) -> bool:
        return all(step.result.sandboxed for step in self.steps) if self.steps else True

    @property
    def log_text(self) -> str:
        return "".join(self._log)

    def remaining_s(self) -> float:
        return self._deadline - time.monotonic()

    def log(self, text: str) -> None:
        self._log.append(text if text.endswith("\n") else text + "\n")

    def progress(self, stage: str, **detail: Any) -> None:
        if self._progress is None:
            return
        try:
            self._progress(stage, detail)
        except Exception:
            log.exception("progress callback failed")

    def failure(self, result: SandboxResult, *, step: str, learner_code: bool = True) -> GradeReport | None:
        return report_for_step(result, step=step, learner_code=learner_code)

    def run(
        self,
        step: str,
        argv: Sequence[str],
        *,
        input: Mapping[str, Any] | None = None,
        limits: Limits | Mapping[str, int] | None = None,
        learner_code: bool = True,
        extra_ro_binds: Sequence[str | tuple[str, str]] = (),
    ) -> tuple[SandboxResult, dict[str, Any] | None]:
        """Run harness script argv[0] (a host path) with input.json in a fresh sandboxed step.

        learner_code=True (the default, the safe one): the step may run learner code, so only the
        harness file itself, harness/common.py beside it and the submission (read-only, at
        ./submission) are visible.
        learner_code=False: a ground-truth step: the whole runner package is visible (so the
        script may import portfolio.runner.*) and the submission is not.
        Returns the sandbox result and output.json parsed (None if missing or not a JSON object).
        """
        if not _STEP_NAME.match(step) or any(s.name == step for s in self.steps):
            raise ValueError(f"step name {step!r} must be new and match {_STEP_NAME.pattern}")
        if not argv:
            raise ValueError("argv must start with the harness script's path")
        script = Path(argv[0]).resolve()
        if not script.is_file():
            raise FileNotFoundError(f"harness script {script} does not exist")
        step_limits = self._step_limits(limits)
        step_dir = self.job_dir / "steps" / step
        launch.prepare_work_dir(step_dir, self.config)
        _write_root_owned(step_dir / INPUT_NAME, json.dumps(dict(input or {})).encode())
        binds = self._binds(script, step_dir, learner_code) + [_as_bind(b) for b in extra_ro_binds]
        command = [
            self.config.python,
            "-I",
            str(script),
            INPUT_NAME,
            OUTPUT_NAME,
            *argv[1:],
        ]
        tail = _ProgressTail(step_dir / PROGRESS_NAME, step, self.progress)
        self.progress("step", step=step, status="started")
        result = launch.run(
            command,
            work_dir=step_dir,
            limits=step_limits,
            ro_binds=binds,
            on_poll=tail.forward_new,
            config=self.config,
        )
        tail.forward_new()
        output = self._read_output(step_dir / OUTPUT_NAME, step)
        self.steps.append(StepRecord(step, learner_code, result, output))
        self._log_step(step, result, learner_code)
        self.progress("step", step=step, status=result.status, wall_s=round(result.wall_s, 2))
        return result, output

    def learner_answers(
        self, result: SandboxResult, output: dict[str, Any] | None, *, step: str, missing: str
    ) -> GradeReport | None:
        """None when a learner step succeeded with a readable {"results": {...}} output; else the
        report: the step's own failure, a crash when its output is unreadable (only learner code
        ran there, and it can reach the file), or an invalid submission when the harness found no
        module (its "message", or `missing`)."""
        failed = self.failure(result, step=step)
        if failed is not None:
            return failed
        if not isinstance(output, dict) or not isinstance(output.get("results"), dict):
            return GradeReport(
                protocol.OUTCOME_SUBMISSION_FAILED,
                protocol.VERDICT_CRASH,
                "the submission's step ended without readable answers",
            )
        if output.get("status") == "no_module":
            return GradeReport.invalid_submission(str(output.get("message", missing)))
        return None

    def trusted_output(self, result: SandboxResult, output: dict[str, Any] | None, *, step: str) -> GradeReport | None:
        """None when a step of our own code (learner_code=False) succeeded and its output.json says
        {"status": "ok", ...}; else the report, always our failure (a system error, which Django
        retries), with the step's "error" when it wrote one."""
        failed = self.failure(result, step=step, learner_code=False)
        if failed is not None:
            return failed
        if not isinstance(output, dict) or output.get("status") != "ok":
            reason = output.get("error") if isinstance(output, dict) else "no output"
            return GradeReport.system_error(f"the {step} step failed: {reason}")
        return None

    def hand_over(self, step: str, name: str, *, limit: int = MAX_HANDOVER_BYTES) -> tuple[str, str] | None:
        """A file that the finished `step` wrote, for a later step to read: copied (never followed
        through a link, never past `limit` bytes) into a fresh folder of ours, which is returned as
        a bind, (host folder, ``/job/handover``), for `run(..., extra_ro_binds=[...])`; the later
        step finds the file at ``handover/<name>``. None when the step wrote no such file.

        A step that ran learner code can leave a symlink or a FIFO where the file should be, so
        its folder is never bound into another step as it is."""
        try:
            data = _read_regular_file(self.job_dir / "steps" / step / name, limit)
        except FileNotFoundError:
            return None
        folder = self.job_dir / "handover" / step
        folder.mkdir(mode=0o755, parents=True, exist_ok=False)
        _write_root_owned(folder / name, data)
        return str(folder), f"{JOB_MOUNT}/{HANDOVER_NAME}"

    def _step_limits(self, limits: Limits | Mapping[str, int] | None) -> Limits:
        if limits is None:
            chosen = self.limits
        elif isinstance(limits, Limits):
            chosen = limits
        else:
            chosen = self.limits.replace(**limits)
        remaining = max(1, math.ceil(self.remaining_s()))
        return chosen.replace(wall_s=min(chosen.wall_s, remaining))

    def _binds(self, script: Path, step_dir: Path, learner_code: bool) -> list[tuple[str, str]]:
        if learner_code:
            mount_point = step_dir / SUBMISSION_NAME
            mount_point.mkdir(mode=0o755, exist_ok=True)
            return [
                (str(script), f"{CODE_MOUNT}/harness/{script.name}"),
                (str(HARNESS_COMMON), f"{CODE_MOUNT}/harness/{HARNESS_COMMON.name}"),
                (str(self.submission_dir), f"{JOB_MOUNT}/{SUBMISSION_NAME}"),
            ]
        if not script.is_relative_to(RUNNER_PACKAGE_DIR):
            raise ValueError(f"a ground-truth harness must live in {RUNNER_PACKAGE_DIR}, got {script}")
        return [
            (str(RUNNER_PACKAGE_DIR), f"{CODE_MOUNT}/portfolio/runner"),
            (str(PORTFOLIO_INIT), f"{CODE_MOUNT}/portfolio/__init__.py"),
        ]

    def _read_output(self, path: Path, step: str) -> dict[str, Any] | None:
        try:
            raw = _read_regular_file(path, MAX_OUTPUT_BYTES)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            self.log(f"[runner] step {step}: output.json not read: {exc}")
            return None
        try:
            data = json.loads(raw)
        except ValueError as exc:
            self.log(f"[runner] step {step}: output.json is not valid JSON: {exc}")
            return None
        return data if isinstance(data, dict) else None

    def _log_step(self, step: str, result: SandboxResult, learner_code: bool) -> None:
        self.log(f"== step {step}: {result.status}: {result.message} ({result.wall_s:.2f} s)")
        # A ground-truth step's output can hold expected values, which learners must not see.
        if learner_code or not result.ok:
            if result.stdout.strip():
                self.log("-- stdout (tail) --\n" + result.tail("stdout", STEP_LOG_STDOUT_CHARS))
            if result.stderr.strip():
                self.log("-- stderr (tail) --\n" + result.tail("stderr", STEP_LOG_STDERR_CHARS))


class _ProgressTail:
    """Forwards well-formed lines appended to progress.jsonl. The file is writable by the code in
    the step, so every line is treated as untrusted: bounded, flat, and labelled with the step."""

    def __init__(self, path: Path, step: str, progress: Callable[..., None]) -> None:
        self.path = path
        self.step = step
        self.progress = progress
        self.offset = 0
        self.sent = 0

    def forward_new(self) -> None:
        if self.sent >= MAX_PROGRESS_LINES_PER_STEP:
            return
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return
        with os.fdopen(fd, "rb") as f:
            if not _is_regular(f.fileno()):
                return
            f.seek(self.offset)
            chunk = f.read(64 * 1024)
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        for line in complete.splitlines():
            if self.sent >= MAX_PROGRESS_LINES_PER_STEP:
                return
            data = _clean_progress(line)
            if data is not None:
                stage = data.pop("stage")
                self.progress(stage, **data, step=self.step)
                self.sent += 1


def _clean_progress(line: bytes) -> dict[str, Any] | None:
    if len(line) > MAX_PROGRESS_LINE_BYTES:
        return None
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("stage"), str) or not data["stage"]:
        return None
    clean: dict[str, Any] = {}
    for key, value in list(data.items())[:12]:
        if not isinstance(key, str) or len(key) > 32 or key == "step":
            continue
        if isinstance(value, str):
            value = value[:200]
        elif not (value is None or isinstance(value, bool | int | float)):
            continue
        clean[key] = value
    clean["stage"] = str(clean.get("stage", ""))[:64]
    return clean if clean["stage"] else None


def _as_bind(bind: str | tuple[str, str]) -> tuple[str, str]:
    return (bind, bind) if isinstance(bind, str) else (bind[0], bind[1])


def _write_root_owned(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _read_regular_file(path: Path, limit: int) -> bytes:
    """Read a file the sandboxed code could have replaced: never follow a symlink out of the job
    folder (the worker reads as root), never block on a FIFO, never read past `limit`."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        if not _is_regular(f.fileno()):
            raise ValueError(f"{path.name} is not a regular file")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{path.name} is larger than {limit} bytes")
    return data


def _is_regular(fd: int) -> bool:
    return stat.S_ISREG(os.fstat(fd).st_mode)
