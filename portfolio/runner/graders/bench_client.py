"""The grader `bench_client` (artifact 07, the client half): the learner's own benchmark client,
run against a reference server whose true timings are recorded on the server's side.

One sandboxed step, because a client and its server must share the step's network namespace
(loopback only): benchclient/harness_client.py starts the trusted reference server for each
case, runs the learner's run(base_url, workload) in a separate, signal-less child process, kills
whatever that child left behind and only then takes the server's record out of its memory (the
harness's docstring says how the learner's code is kept from the record and the server). Then
benchclient/grade.compare holds every figure the client reported to the record, through the
open-loop harness's own metric code (bench/metrics.py).

params (all optional): {"case_wall_s": number, 2 to 60, default 20: each case's wall clock;
"cases": [case names]: grade only these (tests and operators; the web app never sends it)}.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from portfolio.runner import protocol
from portfolio.runner.benchclient import cases, grade, harness_client
from portfolio.runner.graders.base import SUBMISSION_NAME, GradeContext, GradeReport
from portfolio.runner.harness import common
from portfolio.runner.sandbox.command import CODE_MOUNT

BENCH_DIR = Path(__file__).resolve().parents[1] / "benchclient"
HARNESS = BENCH_DIR / "harness_client.py"
SERVER = BENCH_DIR / "server.py"
PROCESSES = 256


class BenchClientGrader:
    name = "bench_client"
    version = "1"

    def grade(self, ctx: GradeContext) -> GradeReport:
        chosen = _params(ctx.params)
        if isinstance(chosen, GradeReport):
            return chosen
        wall_s, items = chosen
        if common.find_module(ctx.submission_dir, harness_client.MODULE_NAME) is None:
            return GradeReport.invalid_submission(common.missing_module(harness_client.MODULE_NAME))
        job = {
            "cases": [{"workload": cases.workload(item), "server": cases.server_settings(item)} for item in items],
            "case_wall_s": wall_s,
            "submission": SUBMISSION_NAME,
        }
        ctx.progress("bench_client", stage_detail="running the client against the reference server", cases=len(items))
        result, output = ctx.run(
            "client",
            [str(HARNESS)],
            input=job,
            limits={"processes": max(ctx.limits.processes, PROCESSES)},
            extra_ro_binds=[(str(SERVER), f"{CODE_MOUNT}/harness/server.py")],
        )
        failed = ctx.failure(result, step="client")
        if failed is not None:
            return failed
        if not isinstance(output, dict) or output.get("status") != "ok":
            reason = output.get("error") if isinstance(output, dict) else "no output"
            return GradeReport.system_error(f"the benchmark harness failed: {reason}")
        outputs = output.get("cases")
        if not isinstance(outputs, list) or len(outputs) != len(items) or not all(_well_formed(o) for o in outputs):
            return GradeReport(
                protocol.OUTCOME_SUBMISSION_FAILED, protocol.VERDICT_CRASH, "the benchmark step's output is unreadable"
            )
        first = outputs[0]["client"].get("status") if outputs else None
        if first in ("missing", "no_import") and all(o["client"].get("status") == first for o in outputs):
            return GradeReport.invalid_submission(str(outputs[0]["client"].get("message")))
        outcome = grade.compare(items, outputs)
        metrics = {
            "guard": output.get("guard"),
            "signal_guard": sorted(
                {str(o["client"].get("guard")) for o in outputs if o["client"].get("status") == "ok"}
            ),
            "client_wall_s": [o["client"].get("wall_s") for o in outputs],
            # Processes a client left behind, killed when its case ended (a daemon cannot outlive it).
            "client_strays": [o["client"].get("stray_processes") for o in outputs],
        }
        return GradeReport.compared(outcome, metrics=metrics)


def _well_formed(output: Any) -> bool:
    return (
        isinstance(output, Mapping)
        and isinstance(output.get("record"), Mapping)
        and isinstance(output["record"].get("requests"), list)
        and isinstance(output.get("client"), Mapping)
        and isinstance(output.get("rtt_s"), list)
    )


def _params(params: Mapping[str, Any]) -> tuple[float, list[cases.Case]] | GradeReport:
    unknown = sorted(set(params) - {"case_wall_s", "cases"})
    if unknown:
        return GradeReport.system_error(f"params.{unknown[0]} is not a parameter of the bench_client grader")
    wall = params.get("case_wall_s", harness_client.DEFAULT_CASE_WALL_S)
    if isinstance(wall, bool) or not isinstance(wall, int | float) or not 2 <= wall <= 60:
        return GradeReport.system_error("params.case_wall_s must be a number between 2 and 60")
    items = cases.all_cases()
    names = params.get("cases")
    if names is not None:
        known = {item["name"] for item in items}
        if not isinstance(names, list) or not names or any(name not in known for name in names):
            return GradeReport.system_error(f"params.cases must list case names among: {', '.join(sorted(known))}")
        items = [item for item in items if item["name"] in names]
    return float(wall), items
