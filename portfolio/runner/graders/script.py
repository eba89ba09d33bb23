"""The trivial grader `script`: run the submission's main.py and read its last line.

Verdict `passed` when the script exits 0 and its last stdout line is a JSON object with
"ok": true (its other keys become the metrics); `failed` when it exits 0 otherwise; the
submission's own failures (crash, timeout, memory, output limit) are classified by the sandbox.
It is the end-to-end test grader and the pipeline's smoke test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from portfolio.runner import protocol
from portfolio.runner.graders.base import SUBMISSION_NAME, GradeContext, GradeReport

HARNESS = Path(__file__).resolve().parents[1] / "harness" / "run_script.py"
ENTRY_NAME = "main.py"
MAX_ARGS = 32
MAX_ARG_CHARS = 1024
MAX_METRICS_BYTES = 16 * 1024


class ScriptGrader:
    name = "script"
    version = "1"

    def grade(self, ctx: GradeContext) -> GradeReport:
        args = _script_args(ctx.params)
        if isinstance(args, GradeReport):
            return args
        entry = find_entry(ctx.submission_dir)
        if entry is None:
            return GradeReport.invalid_submission(
                "no script to run: upload a single .py file, or a zip with main.py at its top level"
            )
        result, _ = ctx.run(
            "main",
            [str(HARNESS)],
            input={"script": f"{SUBMISSION_NAME}/{entry}", "argv": args},
        )
        failed = ctx.failure(result, step="main")
        if failed is not None:
            failed.tests = [_test("failed", failed.message, observed=result.summary())]
            return failed
        return _judge_last_line(result.stdout)


def find_entry(submission_dir: Path) -> str | None:
    """The script to run, relative to the submission folder: the single uploaded .py file, or
    main.py at the top of a zip (or inside its only top-level folder, as "Compress folder" makes)."""
    top = sorted(p for p in submission_dir.iterdir() if not p.name.startswith("__MACOSX"))
    if len(top) == 1 and top[0].is_file() and top[0].suffix == ".py":
        return top[0].name
    if (submission_dir / ENTRY_NAME).is_file():
        return ENTRY_NAME
    folders = [p for p in top if p.is_dir()]
    if len(top) == 1 and len(folders) == 1 and (folders[0] / ENTRY_NAME).is_file():
        return f"{folders[0].name}/{ENTRY_NAME}"
    return None


def _script_args(params: dict[str, Any]) -> list[str] | GradeReport:
    unknown = sorted(set(params) - {"argv"})
    if unknown:
        return GradeReport.system_error(f"params.{unknown[0]} is not a parameter of the script grader (known: argv)")
    args = params.get("argv", [])
    if (
        not isinstance(args, list)
        or len(args) > MAX_ARGS
        or not all(isinstance(a, str) and len(a) <= MAX_ARG_CHARS for a in args)
    ):
        return GradeReport.system_error(f"params.argv must be a list of at most {MAX_ARGS} short strings")
    return args


def _judge_last_line(stdout: str) -> GradeReport:
    lines = [line for line in stdout.splitlines() if line.strip()]
    last = lines[-1].strip() if lines else ""
    try:
        report = json.loads(last) if last else None
    except ValueError:
        report = None
    if not isinstance(report, dict):
        message = 'the script exited 0 but its last output line is not a JSON object such as {"ok": true}'
        return _failed(message, observed=last[:500] or None)
    metrics = {k: v for k, v in report.items() if k != "ok"}
    if len(json.dumps(metrics)) > MAX_METRICS_BYTES:
        return _failed(
            f"the reported metrics are larger than {MAX_METRICS_BYTES} bytes",
            observed=None,
        )
    if report.get("ok") is not True:
        return _failed(
            'the script reported "ok": ' + json.dumps(report.get("ok")),
            observed=report,
            metrics=metrics,
        )
    return GradeReport.completed(
        verdict=protocol.VERDICT_PASSED,
        message="the script exited 0 and reported ok",
        score=1.0,
        max_score=1.0,
        tests=[_test("passed", "reported ok", observed=report)],
        metrics=metrics,
    )


def _failed(message: str, *, observed: Any, metrics: dict[str, Any] | None = None) -> GradeReport:
    return GradeReport.completed(
        verdict=protocol.VERDICT_FAILED,
        message=message,
        score=0.0,
        max_score=1.0,
        tests=[_test("failed", message, observed=observed)],
        metrics=metrics or {},
    )


def _test(status: str, message: str, *, observed: Any) -> dict[str, Any]:
    return protocol.make_test(ENTRY_NAME, status, expected={"ok": True}, observed=observed, message=message)
