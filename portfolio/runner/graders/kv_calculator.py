"""The grader `kv_calculator` (artifact 09): a learner's KV cache calculator against measurement.

Two sandboxed steps that never share a sandbox (runner README, "Harness scripts"):

1. "learner": kv/harness_call.py calls the submission's kv_cache_bytes / max_concurrency on every
   case's inputs (no expected value reaches it) and records each answer or failure.
2. "truth" (our code only): kv/harness_measure.py builds the models from their configs with random
   weights and measures the cache bytes of every hidden case, and of the public cases too unless
   the committed public table was measured with the torch and transformers versions of the
   runner env (the harness checks, in the runner env itself).

Then kv/grade.compare turns answers and truth into the result's tests. The science (catalog,
reference, measurement, case design) lives in portfolio/runner/kv/.

params (all optional): {"call_timeout_s": number, 0.1 to 10, default 2}.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from portfolio.runner.graders.base import SUBMISSION_NAME, GradeContext, GradeReport
from portfolio.runner.harness import common
from portfolio.runner.kv import cases, grade, harness_call

KV_DIR = Path(__file__).resolve().parents[1] / "kv"
HARNESS_CALL = KV_DIR / "harness_call.py"
HARNESS_MEASURE = KV_DIR / "harness_measure.py"
DEFAULT_CALL_TIMEOUT_S = 2.0


class KVCalculatorGrader:
    name = "kv_calculator"
    version = "2"  # 2: each case's category, hint, why and printed output; plain percentages

    def grade(self, ctx: GradeContext) -> GradeReport:
        timeout = _call_timeout(ctx.params)
        if isinstance(timeout, GradeReport):
            return timeout
        if harness_call.find_module(ctx.submission_dir) is None:
            return GradeReport.invalid_submission(common.missing_module(harness_call.MODULE_NAME))
        items = cases.all_cases()

        ctx.progress("kv", stage_detail="calling the submission", cases=len(items))
        learner, answers = ctx.run(
            "learner",
            [str(HARNESS_CALL)],
            input={
                "submission": SUBMISSION_NAME,
                "cases": [cases.call_input(item) for item in items],
                "call_timeout_s": timeout,
            },
        )
        refused = ctx.learner_answers(learner, answers, step="learner", missing="no kv_calculator.py found")
        if refused is not None or answers is None:
            return refused or GradeReport.system_error("no answers")

        requests = cases.measurement_requests(items)
        ctx.progress("kv", stage_detail="measuring the truth", measurements=len(requests))
        truth_input: dict[str, Any] = {"requests": requests, "reuse_public_table": True}
        if not ctx.config.gpu:
            truth_input["threads"] = 1  # see harness_measure: faster on a small CPU runner
        truth, measured = ctx.run("truth", [str(HARNESS_MEASURE)], input=truth_input, learner_code=False)
        failed = ctx.trusted_output(truth, measured, step="truth")
        if failed is not None or measured is None:
            return failed or GradeReport.system_error("no measurements")
        measurements = dict(measured.get("measurements") or {})
        broken = sorted(key for key, value in measurements.items() if "error" in value)
        if broken:
            return GradeReport.system_error(f"measuring {broken[0]} failed: {measurements[broken[0]]['error']}")
        try:
            outcome = grade.compare(items, answers["results"], measurements)
        except grade.MissingMeasurement as exc:
            return GradeReport.system_error(str(exc))

        devices = {value.get("device") for value in measurements.values() if value.get("device")}
        metrics = {
            "functions": answers.get("functions"),
            "module": answers.get("module"),
            "measured": sum(not value.get("reused") for value in measurements.values()),
            "public_from_table": sum(bool(value.get("reused")) for value in measurements.values()),
            "measurement_device": sorted(devices),
            "versions": measured.get("versions"),
            "measure_wall_s": measured.get("wall_s"),
        }
        # No expected value of a hidden case goes into raw: the learner may see the whole result.
        raw = {"methods": sorted({str(value.get("method", "")).split(", on ")[0] for value in measurements.values()})}
        return GradeReport.compared(outcome, metrics=metrics, raw=raw)


def _call_timeout(params: dict[str, Any]) -> float | GradeReport:
    unknown = sorted(set(params) - {"call_timeout_s"})
    if unknown:
        return GradeReport.system_error(f"params.{unknown[0]} is not a parameter of the kv_calculator grader")
    value = params.get("call_timeout_s", DEFAULT_CALL_TIMEOUT_S)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.1 <= value <= 10:
        return GradeReport.system_error("params.call_timeout_s must be a number between 0.1 and 10")
    return float(value)
