"""The grader `inference_benchmark` (artifact 07): run a learner's workload spec, and check the
numbers a learner measured elsewhere.

A submission holds either or both of:

* a **workload spec** (``workload.json``, or a single uploaded .json that is a spec; or
  ``params["spec"]``): validated here, then run by our own harness
  (``bench/harness_run.py``) in a ground-truth sandbox step. The learner wrote no code, so the
  step runs only trusted code and the spec travels in input.json. An invalid spec, or one the
  device cannot hold, is the submission's failure (invalid_submission) with the reasons;
* a **results upload** (``results.json``, or a single uploaded .json with a "workload" and
  "claimed"): recomputed here (pure Python, no sandbox needed: nothing of the learner's runs)
  by ``bench.uploads`` and each claimed number compared with the recomputation.

Verdict: passed when the benchmark ran with coherent timings and every claim checks out; wrong
when a claim disagrees with its recomputation; failed when the harness's own checks found
incoherent timings (which would be our bug, reported rather than hidden).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from portfolio.runner import protocol
from portfolio.runner.bench import metrics, uploads, validity
from portfolio.runner.bench import workload as workload_spec
from portfolio.runner.graders.base import GradeContext, GradeReport

HARNESS = Path(__file__).resolve().parents[1] / "bench" / "harness_run.py"
SPEC_NAME = "workload.json"
RESULTS_NAME = "results.json"
MAX_JSON_BYTES = 8 * 1024 * 1024
KNOWN_PARAMS = {"spec", "device", "rel_tol", "threads"}


def _load_json(path: Path) -> Any:
    if path.stat().st_size > MAX_JSON_BYTES:
        raise ValueError(f"{path.name} is larger than {MAX_JSON_BYTES // 1024**2} MiB")
    return json.loads(path.read_text(encoding="utf-8"))


def find_documents(submission_dir: Path) -> tuple[Any, Any, list[str]]:
    """(spec or None, results upload or None, problems) from the submission's files."""
    problems: list[str] = []
    files = sorted(p for p in submission_dir.rglob("*.json") if p.is_file() and "__MACOSX" not in p.parts)
    by_name = {p.name: p for p in files}
    found: dict[str, Any] = {}
    for key, name in (("spec", SPEC_NAME), ("results", RESULTS_NAME)):
        if name in by_name:
            try:
                found[key] = _load_json(by_name[name])
            except (OSError, ValueError) as exc:
                problems.append(f"{name} is not readable JSON: {exc}")
    if not found and len(files) == 1:
        try:
            doc = _load_json(files[0])
        except (OSError, ValueError) as exc:
            problems.append(f"{files[0].name} is not readable JSON: {exc}")
        else:
            key = "results" if isinstance(doc, dict) and "claimed" in doc else "spec"
            found[key] = doc
    if not found and not problems:
        problems.append(f"no {SPEC_NAME} (a workload spec) or {RESULTS_NAME} (your measurements) found")
    return found.get("spec"), found.get("results"), problems


def _test(name: str, status: str, message: str, **rest: Any) -> dict[str, Any]:
    return protocol.make_test(name, status, message=message, **rest)


class InferenceBenchmarkGrader:
    name = "inference_benchmark"
    version = "1"

    def grade(self, ctx: GradeContext) -> GradeReport:
        unknown = sorted(set(ctx.params) - KNOWN_PARAMS)
        if unknown:
            return GradeReport.system_error(
                f"params.{unknown[0]} is not a parameter of this grader ({', '.join(sorted(KNOWN_PARAMS))})"
            )
        workload, results, problems = find_documents(ctx.submission_dir)
        if "spec" in ctx.params:
            workload = ctx.params["spec"]
        if problems:
            return GradeReport.invalid_submission("; ".join(problems))
        tests: list[dict[str, Any]] = []
        out_metrics: dict[str, Any] = {}
        raw: dict[str, Any] = {}
        verdict = protocol.VERDICT_PASSED
        messages = []

        if workload is not None:
            report = self._run_spec(ctx, workload, tests, out_metrics, raw)
            if isinstance(report, GradeReport):
                return report
            verdict, message = report
            messages.append(message)
        if results is not None:
            checked = uploads.recompute_upload(results, float(ctx.params.get("rel_tol", metrics.DEFAULT_REL_TOL)))
            if not checked["valid"]:
                errors = "; ".join(f"{e['path']}: {e['message']}" for e in checked["errors"][:10])
                return GradeReport.invalid_submission(f"{RESULTS_NAME} is invalid: {errors}", tests=tests)
            out_metrics["upload"] = checked
            mismatches = [row for row in checked["flagged"] if row["status"] == "mismatch"]
            for row in checked["comparisons"]:
                status = {"ok": "passed", "mismatch": "failed", "unverifiable": "error"}[row["status"]]
                tests.append(
                    _test(
                        f"claim {row['metric']}",
                        status,
                        row["reason"] or "matches the recomputation",
                        expected=row["recomputed"],
                        observed=row["claimed"],
                        rel_error=row["rel_diff"],
                    )
                )
            for row in checked["flagged"]:
                if not row["metric"].startswith(("raw.", "workload.")):
                    continue
                tests.append(_test(f"check {row['metric']}", "failed", row["reason"]))
            if mismatches:
                verdict = protocol.VERDICT_WRONG
            messages.append(
                f"{len(checked['comparisons'])} claims checked, {len(mismatches)} disagree with the recomputation"
            )

        passed = sum(1 for t in tests if t["status"] == "passed")
        return GradeReport.completed(
            verdict=verdict,
            message="; ".join(messages),
            score=passed / len(tests) if tests else 1.0,
            max_score=1.0,
            tests=tests,
            metrics=out_metrics,
            raw=raw,
        )

    def _run_spec(
        self,
        ctx: GradeContext,
        workload: Any,
        tests: list[dict[str, Any]],
        out_metrics: dict[str, Any],
        raw: dict[str, Any],
    ) -> GradeReport | tuple[str, str]:
        norm, errors = workload_spec.validate(workload)
        if errors:
            listed = "; ".join(f"{e['path'] or '(top)'}: {e['message']}" for e in errors[:10])
            return GradeReport.invalid_submission(
                f"the workload spec is invalid: {listed}", metrics={"spec_errors": errors}
            )
        # The harness validates again on its side, so it gets the spec as submitted (a normalised
        # spec names both the architecture and its resolved config, which a spec may not).
        job: dict[str, Any] = {
            "spec": workload,
            "device": ctx.params.get("device", "auto"),
            "cpu_memory_bytes": ctx.limits.memory_mb * 1024**2,
        }
        if ctx.params.get("threads"):
            job["threads"] = ctx.params["threads"]
        result, output = ctx.run("benchmark", [str(HARNESS)], input=job, learner_code=False)
        failed = ctx.failure(result, step="benchmark", learner_code=False)
        if failed is not None:
            return failed
        if output is None:
            return GradeReport.system_error("the benchmark harness wrote no output.json")
        status = output.get("status")
        if status == "refused":
            return GradeReport.invalid_submission(
                f"this runner cannot hold the workload: {output.get('message')}",
                metrics={"refusal": str(output.get("message"))},
            )
        if status == "invalid":
            listed = "; ".join(f"{e['path']}: {e['message']}" for e in output.get("errors", [])[:10])
            return GradeReport.invalid_submission(
                f"the workload spec is invalid: {listed}", metrics={"spec_errors": output.get("errors", [])[:50]}
            )
        if status != "ok":
            return GradeReport.system_error(f"the benchmark harness failed: {output.get('message')}")

        # Recompute the harness's metrics from its raw timings here, outside the sandbox: what we
        # store is then exactly what the stored raw data gives.
        again = metrics.metrics_from_harness_raw(output["raw"], norm["slo"])
        stored = [{k: v for k, v in level.items() if k != "peak_memory"} for level in output["metrics"]["levels"]]
        same = json.loads(json.dumps(again["levels"])) == json.loads(json.dumps(stored))
        problems = [f"c={c}: {p}" for c, items in output.get("checks", {}).items() for p in items]
        tests.append(
            _test(
                "raw timings coherent",
                "passed" if not problems else "failed",
                "; ".join(problems[:5]) or "every request has one increasing timestamp per forced output token",
            )
        )
        # One test per validity check, so a broken run fails with the check named.
        for name in validity.CHECKS:
            broken = [p for p in problems if p.split(": ", 1)[-1].startswith(name)]
            tests.append(
                _test(
                    f"validity: {name}",
                    "passed" if not broken else "failed",
                    "; ".join(broken[:3]) or "holds for every request of every level",
                )
            )
        tests.append(
            _test(
                "metrics recomputed from raw",
                "passed" if same else "failed",
                "identical" if same else "the stored metrics differ from a recomputation",
            )
        )
        for level in output["metrics"]["levels"]:
            tpot = level["tpot_ms"]["p50"]
            tests.append(
                _test(
                    f"concurrency {validity.level_key(level)}",
                    "passed" if level["failed"] == 0 else "failed",
                    f"{level['completed']} completed, {level['failed']} failed; "
                    + (f"TTFT p50 {level['ttft_ms']['p50']:.2f} ms, " if level["ttft_ms"]["p50"] is not None else "")
                    + (f"TPOT p50 {tpot:.3f} ms, " if tpot is not None else "")
                    + f"{level['output_tokens_per_s'] or 0:.1f} output tokens/s"
                    + (f"; stopped early ({level['stopped_early']})" if level.get("stopped_early") else ""),
                    observed={
                        "ttft_ms_p50": level["ttft_ms"]["p50"],
                        "tpot_ms_p50": tpot,
                        "output_tokens_per_s": level["output_tokens_per_s"],
                    },
                )
            )
        out_metrics.update(
            {
                "spec": output["spec"],
                "batching": output["batching"],
                "levels": output["metrics"]["levels"],
                "sweep": output.get("sweep"),
                "percentile_method": output["metrics"]["percentile_method"],
                "roofline": _roofline_summary(output.get("roofline")),
                "model": output["model"],
                "harness_environment": output["environment"],
                "definitions": output["definitions"],
            }
        )
        raw.update({"benchmark": output["raw"], "roofline": output.get("roofline")})
        ok = not problems and same
        device = output["environment"]["device"]
        return (
            protocol.VERDICT_PASSED if ok else protocol.VERDICT_FAILED
        ), f"benchmark ran {len(stored)} levels on {device}"


def _roofline_summary(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """The roofline without its per-step lists (those stay in raw)."""
    if report is None:
        return None
    return {
        "formula": report["formula"],
        "efficiency": report["efficiency"],
        "caveats": report["caveats"],
        "bandwidth_gb_per_s": report["bandwidth"]["gb_per_s_best"],
        "bandwidth_method": report["bandwidth"]["method"],
        "levels": [{k: v for k, v in level.items() if k != "batches"} for level in report["levels"]],
    }
