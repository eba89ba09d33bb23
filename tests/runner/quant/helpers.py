"""Helpers of the quantizer grader tests: the grader's four steps chained without the sandbox,
the way graders/quantizer.py chains them (runner env, through RUNNER_PYTHON subprocesses)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from portfolio.runner.graders.quantizer import HARNESS_LEARNER, HARNESS_TRUTH, read_claims
from portfolio.runner.quant import cases, grade, harness_learner, harness_truth
from tests.runner.kv.helpers import run_harness, submission_dir
from tests.runner.quant.submission_files import CLAIMS, SUBMISSIONS, files_for, zipped

__all__ = [
    "CLAIMS",
    "SUBMISSIONS",
    "failing",
    "files_for",
    "grade_submission",
    "prepare",
    "show",
    "with_claims",
    "zipped",
]

TRUSTED = {"settings": cases.SETTINGS, "requests": cases.quantize_requests(), "threads": 1}


def prepare(workdir: Path) -> dict[str, Any]:
    output, timing, proc = run_harness(HARNESS_TRUTH, {"mode": "prepare", **TRUSTED}, workdir)
    assert output["status"] == "ok", output.get("traceback") or proc.stderr[-3000:]
    return {"dir": workdir, "timing": timing}


def _learner(
    step: str, workdir: Path, files: dict[str, str | Path], inputs: list[Path], **options: Any
) -> tuple[dict[str, Any], dict[str, float]]:
    submission_dir(workdir, files)
    job = {"mode": step, "submission": "submission", "requests": TRUSTED["requests"], **options}
    output, timing, proc = run_harness(HARNESS_LEARNER, job, workdir, args=[str(p) for p in inputs])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return output, timing


def grade_submission(
    workdir: Path, prepared: dict[str, Any], files: dict[str, str | Path], **options: Any
) -> dict[str, Any]:
    """Everything after the prepare step; returns compare()'s result plus the steps' outputs and timings."""
    ready = prepared["dir"]
    quantized, t1 = _learner("quantize", workdir / "quantize", files, [ready / harness_truth.WEIGHTS_FILE], **options)
    packed = workdir / "quantize" / harness_learner.PACKED_FILE
    dequantized, t2 = _learner(
        "dequantize", workdir / "dequantize", files, [packed, ready / harness_truth.X_FILE], **options
    )
    restored = workdir / "dequantize" / harness_learner.DEQUANTIZED_FILE
    truth, t3, proc = run_harness(
        HARNESS_TRUTH, {"mode": "truth", **TRUSTED}, workdir / "truth", args=[str(packed), str(restored)]
    )
    assert truth["status"] == "ok", truth.get("traceback") or proc.stderr[-3000:]
    timing = {key: t1[key] + t2[key] + t3[key] for key in ("wall_s", "cpu_s")}
    steps = {"quantized": quantized, "dequantized": dequantized, "truth": truth, "timing": timing}
    return _compare(steps, workdir / "quantize" / "submission")


def with_claims(graded: dict[str, Any], workdir: Path, claims: str | Path | None) -> dict[str, Any]:
    """A graded submission judged again with other claims (a claims.json file or text, or None for
    none): claims.json is read by the grader alone, after the steps, so the steps' outputs stand."""
    workdir.mkdir(parents=True, exist_ok=True)
    if claims is not None:
        text = claims.read_text(encoding="utf-8") if isinstance(claims, Path) else claims
        (workdir / cases.CLAIMS_FILE).write_text(text, encoding="utf-8")
    return _compare(graded, workdir)


def _compare(steps: dict[str, Any], folder: Path) -> dict[str, Any]:
    """grade.compare on the steps' outputs with the claims.json in `folder`, as graders/quantizer.py calls it."""
    claims, errors = read_claims(folder)
    dequantized = steps["dequantized"]
    result = grade.compare(
        steps["quantized"]["results"],
        dequantized["results"],
        steps["truth"]["settings"],
        claims,
        errors,
        has_qmatmul=bool(dequantized["functions"]["qmatmul"]),
    )
    keep = ("quantized", "dequantized", "truth", "timing")
    return {**result, **{key: steps[key] for key in keep}}


def failing(result: dict[str, Any]) -> set[str]:
    return {test["name"] for test in result["tests"] if test["status"] != "passed"}


def show(result: dict[str, Any]) -> str:
    return json.dumps(
        [(t["name"], t["status"], t["message"]) for t in result["tests"] if t["status"] != "passed"], indent=1
    )
