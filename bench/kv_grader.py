"""How long the KV cache calculator grader takes for its whole suite on this machine.

    .venv-runner/bin/python bench/kv_grader.py [--repeats 3]

Runs the real grader exactly as a runner worker would (`jobs.execute` with the grader, bubblewrap
sandbox, learner step then ground-truth step) on a correct calculator, several times, and prints
the wall time of each job with the device the truth was measured on. Target (DESIGN.md): the whole
suite in under 30 s on a CPU.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from portfolio.runner import jobs, protocol  # noqa: E402

SUBMISSION = ROOT / "tests" / "runner" / "kv" / "submissions" / "correct.py"


def machine() -> str:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        "?",
    )
    return f"Machine: {cpu}, {os.cpu_count()} cores; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"


def time_jobs(
    grader: str, filename: str, data: bytes, repeats: int, describe: Callable[[dict[str, Any]], str], **params: Any
) -> list[float]:
    """Run the grader `repeats` times through jobs.execute; print a line per job; the wall times.
    Exits when a job does not pass (the submission timed must be a correct one)."""
    walls = []
    for n in range(repeats):
        payload = protocol.make_payload(
            attempt_id=n + 1, run_id=n + 1, attempt=1, grader=grader, grader_version="1",
            filename=filename, data=data, params=params,
        )  # fmt: skip
        started = time.perf_counter()
        result = jobs.execute(payload)
        wall = time.perf_counter() - started
        walls.append(wall)
        print(
            f"job {n + 1}: {wall:5.1f} s wall, {result['verdict']}: {result['message']}; {describe(result)}; "
            f"sandbox {result['environment'].get('sandbox')}"
        )
        if result["verdict"] != "passed":
            sys.exit(f"the correct submission did not pass: {result['log_tail'][-2000:]}")
    return walls


def _kv_details(result: dict[str, Any]) -> str:
    metrics = result.get("metrics", {})
    return (
        f"truth measured on {metrics.get('measurement_device')}, {metrics.get('measured')} measured, "
        f"{metrics.get('public_from_table')} from the stored public table"
    )


def suite_main(
    doc: str | None,
    grader: str,
    upload: tuple[str, Path],
    describe: Callable[[dict[str, Any]], str],
    target_s: float,
    workload: str = "",
) -> None:
    """A grader benchmark's whole command: `--repeats N` jobs of `grader` on a correct submission,
    `upload` = (the name it is uploaded as, the file), with the machine first and the median and
    maximum against `target_s` last."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("RUNNER_PYTHON", sys.executable)
    print(machine())
    if workload:
        print(f"workload: {workload}")
    walls = time_jobs(grader, upload[0], upload[1].read_bytes(), args.repeats, describe)
    print(
        f"\nwhole suite: median {statistics.median(walls):.1f} s, max {max(walls):.1f} s "
        f"(target: under {target_s:g} s on a CPU)"
    )


def main() -> None:
    suite_main(__doc__, "kv_calculator", ("kv_calculator.py", SUBMISSION), _kv_details, 30)


if __name__ == "__main__":
    main()
