"""How long the quantizer grader takes for its whole suite on this machine.

    .venv-runner/bin/python bench/quant_grader.py [--repeats 3]

Runs the real grader as a runner worker would (`jobs.execute`, bubblewrap sandbox, the prepare,
quantize, dequantize and truth steps) on the correct quantizer of tests/runner/quant with its
claims.json, several times, and prints each job's wall time and its steps'. Target (DESIGN.md):
the whole suite in under 60 s on a CPU.
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
from portfolio.runner.quant import cases  # noqa: E402
from tests.runner.quant.submission_files import files_for, zipped  # noqa: E402


def _steps(result: dict[str, Any]) -> str:
    steps = result.get("raw", {}).get("steps", {})
    return ", ".join(f"{name} {step['wall_s']:.1f} s ({step['cpu_s']:.1f} s CPU)" for name, step in steps.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("RUNNER_PYTHON", sys.executable)
    print(machine())
    print(
        f"workload: {len(cases.all_cases())} cases ({len(cases.public_cases())} public, {len(cases.hidden_cases())} hidden)"
    )
    walls = time_jobs("quantizer", "work.zip", zipped(files_for("correct")), args.repeats, _steps)
    print(
        f"\nwhole suite: median {statistics.median(walls):.1f} s, max {max(walls):.1f} s (target: under 60 s on a CPU)"
    )


if __name__ == "__main__":
    main()
