"""The grader `tiny_transformer` (artifact 01): a learner's decoder-only model and sampler, judged
against the grader's own reference implementation with the same weights.

Two sandboxed steps that never share a sandbox (runner README, "Harness scripts"):

1. "learner": tinytf/harness_learner.py imports the submission, loads the grader's random weights
   into the learner's module through the published parameter layout, and records logits, block
   outputs, cache sizes, the weights after the grader's training loop and the sampler's draws for
   every case. It gets each case's inputs only, never what the case expects.
2. "check" (our code only): tinytf/harness_check.py draws the same weights and inputs from each
   case's seed, runs the reference (float64) or computes the target sampling distribution, and
   compares; it reads the learner's tensors from a copy of the file the learner's step wrote
   (GradeContext.hand_over), as data, never as code. The learning case's verdict is the held-out
   loss it computes itself: the trained weights in the reference, on sequences drawn from a seed
   the learner's step is never given (cases.check_input). No number the learner's step reports
   decides a verdict.

Then tinytf/grade.compare turns the learner's results and the checks into the result's tests.

params (all optional): {"call_timeout_s": number, 1 to 60, default 10 (one case of the learner's
step; the learning case has its own budget)}, {"size": "cpu" (default) | "full"}: "full" swaps
the reference, causality and cache cases' configs for a model of tens of millions of parameters
(GPU runners), {"device": "auto" (default) | "cpu" | "cuda"} for the learner's step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from portfolio.runner import protocol
from portfolio.runner.graders.base import HANDOVER_NAME, SUBMISSION_NAME, GradeContext, GradeReport
from portfolio.runner.harness import common
from portfolio.runner.tinytf import cases, contract, grade

TINYTF_DIR = Path(__file__).resolve().parents[1] / "tinytf"
HARNESS_LEARNER = TINYTF_DIR / "harness_learner.py"
HARNESS_CHECK = TINYTF_DIR / "harness_check.py"
TENSORS_NAME = "tensors.safetensors"
DEFAULT_CALL_TIMEOUT_S = 10.0
PARAMS = {"call_timeout_s", "size", "device"}


class TinyTransformerGrader:
    name = "tiny_transformer"
    version = "1"

    def grade(self, ctx: GradeContext) -> GradeReport:
        params = _params(ctx.params, gpu=ctx.config.gpu)
        if isinstance(params, GradeReport):
            return params
        if common.find_module(ctx.submission_dir, contract.MODULE_NAME) is None:
            return GradeReport.invalid_submission(common.missing_module(contract.MODULE_NAME))
        items = cases.all_cases()
        inputs = [cases.learner_input(item, params["size"]) for item in items]
        threads = {} if ctx.config.gpu else {"threads": 1}  # one thread ran faster on the 2-core runner

        ctx.progress("tinytf", stage_detail="running the submission", cases=len(items))
        learner, answers = ctx.run(
            "learner",
            [str(HARNESS_LEARNER)],
            input={
                "submission": SUBMISSION_NAME,
                "cases": inputs,
                "call_timeout_s": params["call_timeout_s"],
                "device": params["device"],
                **threads,
            },
        )
        refused = ctx.learner_answers(learner, answers, step="learner", missing="no tiny_transformer.py found")
        if refused is not None or answers is None:
            return refused or GradeReport.system_error("no answers")
        try:
            handed = ctx.hand_over("learner", TENSORS_NAME)
        except (OSError, ValueError) as exc:
            return GradeReport(
                protocol.OUTCOME_SUBMISSION_FAILED, protocol.VERDICT_CRASH, f"the submission's tensors: {exc}"
            )

        ctx.progress("tinytf", stage_detail="checking against the reference")
        check, judged = ctx.run(
            "check",
            [str(HARNESS_CHECK)],
            input={
                "cases": [cases.check_input(item, params["size"]) for item in items],
                "learner": answers["results"],
                "tensors": f"{HANDOVER_NAME}/{TENSORS_NAME}" if handed else None,
                **threads,
            },
            learner_code=False,
            extra_ro_binds=[handed] if handed else [],
        )
        failed = ctx.trusted_output(check, judged, step="check")
        if failed is not None or judged is None:
            return failed or GradeReport.system_error("no checks")
        try:
            outcome = grade.compare(items, answers["results"], judged.get("checks") or {})
        except grade.MissingCheck as exc:
            return GradeReport.system_error(str(exc))
        # as the learner's step reports it (a figure for the benchmark, never a verdict's input)
        reported = [answers["results"].get(item["name"]) for item in items if item["check"] == "learning"]
        training_cpu_s = reported[0].get("cpu_s") if reported and isinstance(reported[0], dict) else None
        metrics = {
            "module": answers.get("module"),
            "size": params["size"],
            "device": params["device"],
            "versions": judged.get("versions"),
            "check_wall_s": judged.get("wall_s"),
            "learner_wall_s": round(learner.wall_s, 3),
            "training_cpu_s": training_cpu_s,
        }
        return GradeReport.compared(outcome, metrics=metrics)


def _params(params: dict[str, Any], *, gpu: bool) -> dict[str, Any] | GradeReport:
    unknown = sorted(set(params) - PARAMS)
    if unknown:
        return GradeReport.system_error(f"params.{unknown[0]} is not a parameter of the tiny_transformer grader")
    timeout = params.get("call_timeout_s", DEFAULT_CALL_TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 1 <= timeout <= 60:
        return GradeReport.system_error("params.call_timeout_s must be a number between 1 and 60")
    size = params.get("size", "cpu")
    device = params.get("device", "auto")
    if size not in ("cpu", "full") or device not in ("auto", "cpu", "cuda"):
        return GradeReport.system_error('params.size is "cpu" or "full"; params.device is "auto", "cpu" or "cuda"')
    if device == "auto":
        device = "cuda" if gpu else "cpu"
    return {"call_timeout_s": float(timeout), "size": size, "device": device}
