"""The grader `quantizer` (artifact 10): a learner's weight quantizer, measured.

Four sandboxed steps; learner code and our measurements never share one (runner README,
"Harness scripts"):

1. "prepare" (our code): quant/harness_truth.py builds the reference models and writes the
   weights of their decoder linears and the qmatmul activations to files.
2. "quantize" (learner code): quant/harness_learner.py calls quantize(weight, bits, group_size)
   for every setting and layer, given the weights file alone; packed tensors go to a file.
3. "dequantize" (learner code): a fresh sandbox given only the packed file (and the
   activations): dequantize(...) and, when defined, qmatmul(...). It never sees the originals,
   so a dequantize that reads anything but the packed tensors cannot pass.
4. "truth" (our code): reads both files as data (safetensors, no pickle) and measures storage,
   error and model outputs against round-to-nearest (quant/measure.py).

Then quant/grade.compare writes the tests; claims.json is read and validated here (JSON only).
params (all optional): {"call_timeout_s": number, 0.1 to 30, default 5}.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from portfolio.runner import protocol
from portfolio.runner.graders.base import SUBMISSION_NAME, GradeContext, GradeReport
from portfolio.runner.quant import cases, grade, harness_learner, harness_truth

QUANT_DIR = Path(__file__).resolve().parents[1] / "quant"
HARNESS_LEARNER = QUANT_DIR / "harness_learner.py"
HARNESS_TRUTH = QUANT_DIR / "harness_truth.py"
DATA_MOUNT = "/opt/layerwise/data"
MAX_CLAIMS_BYTES = 64 * 1024
FILE_MB = 256


class QuantizerGrader:
    name = "quantizer"
    version = "1"

    def grade(self, ctx: GradeContext) -> GradeReport:
        timeout = ctx.params.get("call_timeout_s", cases.DEFAULT_CALL_TIMEOUT_S)
        if (
            set(ctx.params) - {"call_timeout_s"}
            or isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not 0.1 <= timeout <= 30
        ):
            return GradeReport.system_error("params: only call_timeout_s, a number between 0.1 and 30, is accepted")
        module = harness_learner.find_module(ctx.submission_dir)
        if module is None:
            return GradeReport.invalid_submission(
                "no quantizer.py found: upload quantizer.py, or a zip with quantizer.py and claims.json at the top "
                "level (or inside its only folder)"
            )
        claims, claim_errors = read_claims(module.parent)
        requests = cases.quantize_requests()
        limits = {"file_mb": max(ctx.limits.file_mb, FILE_MB)}
        trusted: dict[str, Any] = {"settings": cases.SETTINGS, "requests": requests}
        if not ctx.config.gpu:
            trusted["threads"] = 1

        ctx.progress("quantizer", stage_detail="building the reference models")
        prepared, made = ctx.run(
            "prepare", [str(HARNESS_TRUTH)], input={"mode": "prepare", **trusted}, limits=limits, learner_code=False
        )
        if failed := ctx.failure(prepared, step="prepare", learner_code=False):
            return failed
        weights = _trusted_file(ctx, "prepare", harness_truth.WEIGHTS_FILE)
        xs = _trusted_file(ctx, "prepare", harness_truth.X_FILE)
        if not isinstance(made, dict) or made.get("status") != "ok" or weights is None or xs is None:
            return GradeReport.system_error(f"the prepare step failed: {(made or {}).get('error', 'no output')}")

        learner_input = {"submission": SUBMISSION_NAME, "requests": requests, "call_timeout_s": float(timeout)}
        ctx.progress("quantizer", stage_detail="calling quantize", calls=len(requests))
        step, quantized = ctx.run(
            "quantize",
            [str(HARNESS_LEARNER), weights[0]],
            input={"mode": "quantize", **learner_input},
            limits=limits,
            extra_ro_binds=[weights[1]],
        )
        if refused := ctx.learner_answers(step, quantized, step="quantize", missing="no quantizer.py found"):
            return refused
        packed = _handed(ctx, "quantize", harness_learner.PACKED_FILE)
        if packed is None:
            return _crash("the quantize step wrote no packed tensors")

        ctx.progress("quantizer", stage_detail="calling dequantize", calls=len(requests))
        step, dequantized = ctx.run(
            "dequantize",
            [str(HARNESS_LEARNER), packed[0], xs[0]],
            input={"mode": "dequantize", **learner_input},
            limits=limits,
            extra_ro_binds=[packed[1], xs[1]],
        )
        if refused := ctx.learner_answers(step, dequantized, step="dequantize", missing="no quantizer.py found"):
            return refused
        restored = _handed(ctx, "dequantize", harness_learner.DEQUANTIZED_FILE)
        if restored is None:
            return _crash("the dequantize step wrote no dequantized weights")
        assert dequantized is not None and quantized is not None

        ctx.progress("quantizer", stage_detail="measuring")
        step, measured = ctx.run(
            "truth",
            [str(HARNESS_TRUTH), packed[0], restored[0]],
            input={"mode": "truth", **trusted},
            limits=limits,
            learner_code=False,
            extra_ro_binds=[packed[1], restored[1]],
        )
        if failed := ctx.failure(step, step="truth", learner_code=False):
            return failed
        if not isinstance(measured, dict) or measured.get("status") != "ok":
            return GradeReport.system_error(f"the truth step failed: {(measured or {}).get('error', 'no output')}")

        outcome = grade.compare(
            quantized["results"],
            dequantized["results"],
            measured["settings"],
            claims,
            claim_errors,
            has_qmatmul=bool(dequantized.get("functions", {}).get("qmatmul")),
        )
        metrics = {
            **outcome["metrics"],
            "module": quantized.get("module"),
            "functions": dequantized.get("functions"),
            "speed": dequantized.get("speed"),
            "versions": measured.get("versions"),
            "truth_wall_s": measured.get("wall_s"),
        }
        # Public settings' reference figures only: hidden ones would give the hidden cases away.
        public = {item["key"] for item in cases.public_settings()}
        raw = {"reference": {key: value["reference"] for key, value in measured["settings"].items() if key in public}}
        return GradeReport.completed(
            verdict=outcome["verdict"],
            message=outcome["message"],
            score=outcome["score"],
            max_score=outcome["max_score"],
            tests=outcome["tests"],
            metrics=metrics,
            raw=raw,
        )


def _handed(ctx: GradeContext, step: str, name: str) -> tuple[str, tuple[str, str]] | None:
    """A file a finished step wrote, copied by ctx.hand_over (never a link or a FIFO the step left
    there) and bound read-only at /opt/layerwise/data/<step>/ in a later step: (the file's host
    path for argv, which the sandbox rewrites, and the bind). None when the step wrote no such file."""
    bind = ctx.hand_over(step, name)
    if bind is None:
        return None
    return str(Path(bind[0]) / name), (bind[0], f"{DATA_MOUNT}/{step}")


def _trusted_file(ctx: GradeContext, step: str, name: str) -> tuple[str, tuple[str, str]] | None:
    """A file that a step of our own code wrote (no learner code ran there, so it is bound as it
    is), in the shape `_handed` returns."""
    path = ctx.job_dir / "steps" / step / name
    if not path.is_file():
        return None
    return str(path), (str(path), f"{DATA_MOUNT}/{step}/{name}")


def _crash(message: str) -> GradeReport:
    # Only learner code ran in that step, and it decides what it leaves in its folder.
    return GradeReport(protocol.OUTCOME_SUBMISSION_FAILED, protocol.VERDICT_CRASH, message)


def read_claims(folder: Path) -> tuple[dict[str, Any] | None, list[dict[str, str]]]:
    """claims.json next to quantizer.py, parsed and validated; (None, errors) when it is missing
    or wrong (the claims cases then fail with the first error)."""
    path = folder / cases.CLAIMS_FILE
    if not path.is_file() or path.is_symlink():
        return None, [
            {"path": "", "message": "is missing: put claims.json next to quantizer.py (its schema is on the spec page)"}
        ]
    data = path.read_bytes()[: MAX_CLAIMS_BYTES + 1]
    if len(data) > MAX_CLAIMS_BYTES:
        return None, [{"path": "", "message": f"is larger than {MAX_CLAIMS_BYTES // 1024} KB"}]
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return None, [{"path": "", "message": f"is not valid JSON: {exc}"}]
    return cases.validate_claims(parsed)
