"""How long the benchmark-client grader takes for its whole suite on this machine.

    .venv-runner/bin/python bench/bench_client_grader.py [--repeats 3]

Runs the real grader as a runner worker would (`jobs.execute`, bubblewrap sandbox, the reference
server and the learner's client in one step, the comparison) on the grader's reference client
(portfolio/runner/benchclient/reference_client.py), several times, and prints each job's wall
time, its step's CPU time and the slowest case. Target (issue 16): the whole suite in under 60 s
on the 2-core development machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.kv_grader import machine, time_jobs  # noqa: E402
from portfolio.runner.benchclient import cases  # noqa: E402

REFERENCE = ROOT / "portfolio" / "runner" / "benchclient" / "reference_client.py"


def _steps(result: dict[str, Any]) -> str:
    steps = result.get("raw", {}).get("steps", {})
    walls = result.get("metrics", {}).get("client_wall_s") or []
    names = [t["name"] for t in result.get("tests", [])]
    slowest = max(zip(walls, names, strict=False), default=(0.0, "-"))
    parts = [f"{name} {step['wall_s']:.1f} s ({step['cpu_s']:.1f} s CPU)" for name, step in steps.items()]
    return ", ".join(parts) + f"; slowest case {slowest[1]} {slowest[0]:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("RUNNER_PYTHON", sys.executable)
    print(machine())
    print(
        f"workload: {len(cases.all_cases())} cases ({len(cases.public_cases())} public, "
        f"{len(cases.hidden_cases())} hidden), "
        f"{sum(len(cases.workload(c)['requests']) + len(cases.workload(c)['warmup']) for c in cases.all_cases())} requests"
    )
    walls = time_jobs("bench_client", "bench_client.py", REFERENCE.read_bytes(), args.repeats, _steps)
    print(
        f"\nwhole suite: median {statistics.median(walls):.1f} s, max {max(walls):.1f} s (target: under 60 s on a CPU)"
    )
    print(machine())


if __name__ == "__main__":
    main()
