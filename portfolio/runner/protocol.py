"""The wire contract between the Django side and the runner host (see README.md).

Standard library only: the web app (Python 3.12, no torch) imports this module too, to build
payloads and to check the results it receives.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from portfolio.runner import archive
from portfolio.runner.archive import content_sha256

TASK_EXECUTE = "runner.execute"
TASK_RECORD_PROGRESS = "portfolio.record_progress"
TASK_RECORD_RESULT = "portfolio.record_result"
QUEUE_RUNNER = "runner"
QUEUE_DEFAULT = "default"

# Whose failure it was. Django retries only SYSTEM_ERROR.
OUTCOME_COMPLETED = "completed"
OUTCOME_SUBMISSION_FAILED = "submission_failed"
OUTCOME_TIMED_OUT = "timed_out"
OUTCOME_SYSTEM_ERROR = "system_error"
OUTCOMES = (
    OUTCOME_COMPLETED,
    OUTCOME_SUBMISSION_FAILED,
    OUTCOME_TIMED_OUT,
    OUTCOME_SYSTEM_ERROR,
)

VERDICT_PASSED = "passed"
VERDICT_FAILED = "failed"
VERDICT_WRONG = "wrong"
VERDICT_TIMEOUT = "timeout"
VERDICT_MEMORY = "memory"
VERDICT_CRASH = "crash"
VERDICT_OUTPUT_LIMIT = "output_limit"
VERDICT_INVALID_SUBMISSION = "invalid_submission"
VERDICT_SANDBOX_ERROR = "sandbox_error"
VERDICT_ERROR = "error"

# Which verdicts each outcome allows; a result outside this table is a bug on whichever side built it.
VERDICTS_BY_OUTCOME: dict[str, tuple[str, ...]] = {
    OUTCOME_COMPLETED: (VERDICT_PASSED, VERDICT_FAILED, VERDICT_WRONG),
    OUTCOME_SUBMISSION_FAILED: (
        VERDICT_CRASH,
        VERDICT_MEMORY,
        VERDICT_OUTPUT_LIMIT,
        VERDICT_INVALID_SUBMISSION,
    ),
    OUTCOME_TIMED_OUT: (VERDICT_TIMEOUT,),
    OUTCOME_SYSTEM_ERROR: (VERDICT_SANDBOX_ERROR, VERDICT_ERROR),
}
VERDICTS = tuple(v for verdicts in VERDICTS_BY_OUTCOME.values() for v in verdicts)

TEST_STATUSES = ("passed", "failed", "error")
TEST_VISIBILITIES = ("visible", "hidden")

MAX_ATTEMPTS = 3
# The runner's upload limits live in archive.py (the web refuses anything above them at upload).
MAX_SUBMISSION_BYTES = archive.DEFAULT_MAX_BYTES
MESSAGE_MAX_CHARS = 500
LOG_TAIL_MAX_CHARS = 16_000
MAX_TESTS = 500


class PayloadError(ValueError):
    """A job payload that does not follow the contract; `field` is its dotted path."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"payload field {field!r}: {problem}")
        self.field = field
        self.problem = problem


class SubmissionRefused(PayloadError):
    """The payload is sound but the submission in it is beyond the runner's limits: the
    submission's failure (invalid_submission), never retried, not ours."""


class ResultError(ValueError):
    """A result dict that does not follow the contract; `field` is its dotted path."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"result field {field!r}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class Limits:
    """Per-job resource limits. `wall_s` is the wall-clock budget of all sandboxed steps together.

    `processes` counts processes AND threads of the sandbox user (RLIMIT_NPROC), including about
    four of the runner's own (bwrap and the harness), so leave room for torch's thread pools.
    """

    wall_s: int = 300
    cpu_s: int = 300
    memory_mb: int = 4096
    processes: int = 64
    file_mb: int = 64
    output_kb: int = 256
    tmp_mb: int = 64

    def replace(self, **changes: int) -> Limits:
        merged = {**asdict(self), **changes}
        return parse_limits(merged)


# Inclusive bounds. Upper bounds keep one job from holding a GPU host for hours and size the
# Celery time limits (celery_app.py derives task_time_limit from MAX_WALL_S).
LIMIT_BOUNDS: dict[str, tuple[int, int]] = {
    "wall_s": (1, 1800),
    "cpu_s": (1, 7200),
    "memory_mb": (64, 262_144),
    "processes": (8, 4096),
    "file_mb": (1, 8192),
    "output_kb": (1, 10_240),
    "tmp_mb": (1, 8192),
}
MAX_WALL_S = LIMIT_BOUNDS["wall_s"][1]
# Celery's hard limit for `runner.execute`: the longest sandbox budget plus time to probe, unpack
# and report. Both Celery apps derive their broker visibility timeout (1.1x) from it, because
# with a shared Redis broker the shortest timeout wins.
TASK_TIME_LIMIT_S = MAX_WALL_S + 300


@dataclass(frozen=True)
class Submission:
    filename: str
    data: bytes
    sha256: str


@dataclass(frozen=True)
class Payload:
    attempt_id: int
    run_id: int
    attempt: int
    grader: str
    grader_version: str
    submission: Submission
    params: dict[str, Any] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)


def make_payload(
    *,
    attempt_id: int,
    run_id: int,
    attempt: int,
    grader: str,
    grader_version: str,
    filename: str,
    data: bytes,
    params: Mapping[str, Any] | None = None,
    limits: Mapping[str, int] | Limits | None = None,
) -> dict[str, Any]:
    """Build the JSON payload of `runner.execute` and validate it, so a bad one fails at the sender."""
    if isinstance(limits, Limits):
        limits = asdict(limits)
    payload: dict[str, Any] = {
        "attempt_id": attempt_id,
        "run_id": run_id,
        "attempt": attempt,
        "grader": grader,
        "grader_version": grader_version,
        "submission": {
            "filename": filename,
            "content_b64": base64.b64encode(data).decode("ascii"),
            "sha256": content_sha256(data),
        },
        "params": dict(params or {}),
        "limits": dict(limits or {}),
    }
    validate_payload(payload)
    return payload


def validate_payload(payload: object) -> Payload:
    """Check a `runner.execute` payload and return it parsed; raise PayloadError naming the field.

    The sha256 is checked for shape here and against the bytes by jobs.execute, which reports a
    mismatch as a system error rather than a payload error.
    """
    top = _require_mapping(payload, "payload")
    _refuse_unknown_keys(
        top,
        "payload",
        {
            "attempt_id",
            "run_id",
            "attempt",
            "grader",
            "grader_version",
            "submission",
            "params",
            "limits",
        },
    )
    attempt_id = _require_int(top, "attempt_id", minimum=1)
    run_id = _require_int(top, "run_id", minimum=1)
    attempt = _require_int(top, "attempt", minimum=1, maximum=MAX_ATTEMPTS)
    grader = _require_name(top, "grader")
    grader_version = _require_name(top, "grader_version")
    submission = _parse_submission(top.get("submission"))
    params = top.get("params", {})
    if not isinstance(params, dict):
        raise PayloadError("params", f"must be a JSON object, got {type(params).__name__}")
    limits = parse_limits(top.get("limits", {}), field_prefix="limits")
    return Payload(
        attempt_id=attempt_id,
        run_id=run_id,
        attempt=attempt,
        grader=grader,
        grader_version=grader_version,
        submission=submission,
        params=params,
        limits=limits,
    )


def parse_limits(raw: object, *, field_prefix: str = "limits") -> Limits:
    """Defaults for missing keys; unknown keys are refused so a typo never silently lifts a limit."""
    if raw is None:
        raw = {}
    values = _require_mapping(raw, field_prefix)
    known = {f.name for f in fields(Limits)}
    _refuse_unknown_keys(values, field_prefix, known)
    parsed: dict[str, int] = {}
    for name in known:
        if name not in values:
            continue
        low, high = LIMIT_BOUNDS[name]
        parsed[name] = _require_int(values, name, minimum=low, maximum=high, prefix=field_prefix)
    return Limits(**parsed)


def _parse_submission(raw: object) -> Submission:
    sub = _require_mapping(raw, "submission")
    _refuse_unknown_keys(sub, "submission", {"filename", "content_b64", "sha256"})
    filename = sub.get("filename")
    if not isinstance(filename, str) or not filename.strip():
        raise PayloadError("submission.filename", "must be a non-empty string")
    if "/" in filename or "\\" in filename or filename in {".", ".."} or "\x00" in filename:
        raise PayloadError("submission.filename", f"must be a bare file name, got {filename!r}")
    encoded = sub.get("content_b64")
    if not isinstance(encoded, str):
        raise PayloadError("submission.content_b64", "must be a base64 string")
    if len(encoded) > (MAX_SUBMISSION_BYTES * 4) // 3 + 4:
        raise SubmissionRefused(
            "submission.content_b64",
            f"is larger than {MAX_SUBMISSION_BYTES} bytes decoded",
        )
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PayloadError("submission.content_b64", f"is not valid base64 ({exc})") from None
    digest = sub.get("sha256")
    if not isinstance(digest, str) or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise PayloadError("submission.sha256", "must be 64 lowercase hex characters")
    return Submission(filename=filename, data=data, sha256=digest)


def _require_mapping(value: object, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PayloadError(name, f"must be a JSON object, got {type(value).__name__}")
    return value


def _refuse_unknown_keys(values: Mapping[str, Any], name: str, known: set[str]) -> None:
    unknown = sorted(str(k) for k in values if k not in known)
    if unknown:
        where = "" if name == "payload" else f"{name}."
        raise PayloadError(
            f"{where}{unknown[0]}",
            f"is not a known field (known: {', '.join(sorted(known))})",
        )


def _require_int(
    values: Mapping[str, Any],
    key: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    prefix: str = "",
) -> int:
    name = f"{prefix}.{key}" if prefix else key
    if key not in values:
        raise PayloadError(name, "is required")
    value = values[key]
    # bool is an int subclass; `true` for a limit is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(name, f"must be an integer, got {value!r}")
    if minimum is not None and value < minimum or maximum is not None and value > maximum:
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise PayloadError(name, f"must be {bounds}, got {value}")
    return value


def _require_name(values: Mapping[str, Any], key: str) -> str:
    value = values.get(key)
    if not isinstance(value, str) or not value or len(value) > 64:
        raise PayloadError(key, f"must be a non-empty string of at most 64 characters, got {value!r}")
    return value


# --- results -------------------------------------------------------------------------------------


def make_test(
    name: str,
    status: str,
    *,
    visibility: str = "visible",
    expected: Any = None,
    observed: Any = None,
    rel_error: float | None = None,
    message: str = "",
    details: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One entry of `result["tests"]`."""
    if status not in TEST_STATUSES:
        raise ResultError("tests.status", f"must be one of {', '.join(TEST_STATUSES)}, got {status!r}")
    if visibility not in TEST_VISIBILITIES:
        raise ResultError(
            "tests.visibility",
            f"must be one of {', '.join(TEST_VISIBILITIES)}, got {visibility!r}",
        )
    if rel_error is not None and not math.isfinite(rel_error):
        rel_error = None
    return {
        "name": str(name),
        "status": status,
        "visibility": visibility,
        "expected": expected,
        "observed": observed,
        "rel_error": rel_error,
        "message": _one_line(message),
        "details": dict(details or {}),
    }


def build_result(
    *,
    attempt_id: int | None,
    run_id: int | None,
    outcome: str,
    verdict: str,
    message: str,
    score: float | None = None,
    max_score: float | None = None,
    tests: Sequence[Mapping[str, Any]] = (),
    metrics: Mapping[str, Any] | None = None,
    raw: Mapping[str, Any] | None = None,
    environment: Mapping[str, Any] | None = None,
    sandboxed: bool = True,
    log_tail: str = "",
    duration_s: float = 0.0,
) -> dict[str, Any]:
    """The dict `portfolio.record_result` receives. Refuses a verdict that its outcome does not allow."""
    check_outcome_verdict(outcome, verdict)
    return {
        "attempt_id": attempt_id,
        "run_id": run_id,
        "outcome": outcome,
        "verdict": verdict,
        "score": score,
        "max_score": max_score,
        "message": _one_line(message),
        "tests": [dict(t) for t in tests[:MAX_TESTS]],
        "metrics": dict(metrics or {}),
        "raw": dict(raw or {}),
        "environment": dict(environment or {}),
        "sandboxed": bool(sandboxed),
        "log_tail": cap_log(log_tail),
        "duration_s": round(float(duration_s), 3),
    }


def completed(*, verdict: str, message: str, **rest: Any) -> dict[str, Any]:
    return build_result(outcome=OUTCOME_COMPLETED, verdict=verdict, message=message, **rest)


def submission_failed(*, verdict: str, message: str, **rest: Any) -> dict[str, Any]:
    return build_result(outcome=OUTCOME_SUBMISSION_FAILED, verdict=verdict, message=message, **rest)


def timed_out(*, message: str, **rest: Any) -> dict[str, Any]:
    return build_result(outcome=OUTCOME_TIMED_OUT, verdict=VERDICT_TIMEOUT, message=message, **rest)


def system_error(*, message: str, verdict: str = VERDICT_ERROR, **rest: Any) -> dict[str, Any]:
    return build_result(outcome=OUTCOME_SYSTEM_ERROR, verdict=verdict, message=message, **rest)


def is_retryable(result: Mapping[str, Any]) -> bool:
    """Only our own failures are retried; the submission's failures and timeouts never are."""
    return result.get("outcome") == OUTCOME_SYSTEM_ERROR


def validate_result(result: object) -> dict[str, Any]:
    """Check a result received by `portfolio.record_result`; raise ResultError naming the field."""
    if not isinstance(result, Mapping):
        raise ResultError("result", f"must be a JSON object, got {type(result).__name__}")
    for key in ("attempt_id", "outcome", "verdict", "message"):
        if key not in result:
            raise ResultError(key, "is required")
    if isinstance(result["attempt_id"], bool) or not isinstance(result["attempt_id"], int):
        raise ResultError("attempt_id", f"must be an integer, got {result['attempt_id']!r}")
    check_outcome_verdict(result["outcome"], result["verdict"])
    for key in ("score", "max_score", "duration_s"):
        value = result.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ResultError(key, f"must be a number or null, got {value!r}")
    for key in ("metrics", "raw", "environment"):
        if not isinstance(result.get(key, {}), Mapping):
            raise ResultError(key, "must be a JSON object")
    tests = result.get("tests", [])
    if not isinstance(tests, list):
        raise ResultError("tests", "must be a list")
    for i, test in enumerate(tests):
        if not isinstance(test, Mapping) or test.get("status") not in TEST_STATUSES:
            raise ResultError(f"tests[{i}].status", f"must be one of {', '.join(TEST_STATUSES)}")
    return dict(result)


def check_outcome_verdict(outcome: object, verdict: object) -> None:
    if outcome not in VERDICTS_BY_OUTCOME:
        raise ResultError("outcome", f"must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
    allowed = VERDICTS_BY_OUTCOME[str(outcome)]
    if verdict not in allowed:
        raise ResultError(
            "verdict",
            f"outcome {outcome!r} allows {', '.join(allowed)}, got {verdict!r}",
        )


def cap_log(text: str, limit: int = LOG_TAIL_MAX_CHARS) -> str:
    """Keep the end of a log, where the error usually is, and say that the start was cut."""
    if len(text) <= limit:
        return text
    marker = f"[... {len(text) - limit} earlier characters cut ...]\n"
    return marker + text[-(limit - len(marker)) :]


def _one_line(text: str) -> str:
    line = " ".join(str(text).split())
    if len(line) > MESSAGE_MAX_CHARS:
        line = line[: MESSAGE_MAX_CHARS - 1] + "…"
    return line
