"""`make bench`: run every benchmark in turn, each in its own process, and print its figures.

The web benchmarks run twice: on the embedded SQLite database and, where a throwaway PostgreSQL
can be started (bin/with-postgres: root and the postgresql package), on PostgreSQL. The runner's
overhead benchmark runs in the runner's environment. Add a script by adding a line to a list
below. The figures go into docs/benchmarks.md together with the machine they came from.

    python bench/run_all.py [--quick] [--no-postgres]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEB = sys.executable  # the web app's virtualenv, which runs this file
RUNNER = os.environ.get("RUNNER_PYTHON") or str(ROOT / ".venv-runner" / "bin" / "python")

# Seeding first; then the in-process page timings and the HTTP load, on each database.
WEB_SCRIPTS: list[list[str]] = [
    ["bench/seed_learners.py"],
    ["bench/pages.py"],
    ["bench/team_matrix.py"],
    ["bench/http_load.py"],
]
RUNNER_SCRIPTS: list[list[str]] = [
    ["bench/kv_grader.py"],
    ["bench/quant_grader.py"],
    ["bench/bench_client_grader.py"],
    ["bench/run_start_latency.py"],
    ["bench/inference_overhead.py"],
    ["bench/inference_load.py"],
]
QUICK_ARGS = {
    "bench/pages.py": ["--iterations", "60", "--warmup", "20"],
    "bench/team_matrix.py": ["--iterations", "60", "--warmup", "10"],
    "bench/http_load.py": ["--requests", "100", "--concurrency", "1", "8"],
    "bench/inference_overhead.py": ["--reps", "6"],
    "bench/inference_load.py": ["--architecture", "tiny-llama", "--requests", "20", "--sweep-requests", "12"],
    "bench/run_start_latency.py": ["--runs", "5"],
    "bench/kv_grader.py": ["--repeats", "1"],
    "bench/quant_grader.py": ["--repeats", "1"],
    "bench/bench_client_grader.py": ["--repeats", "1"],
}


def run(interpreter: str, command: list[str], quick: bool) -> bool:
    args = [*command, *(QUICK_ARGS.get(command[0], []) if quick else [])]
    print(f"\n=== {' '.join(args)} ===", flush=True)
    return subprocess.run([interpreter, *args], cwd=ROOT, check=False).returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer iterations: a smoke test of the scripts")
    parser.add_argument("--no-postgres", action="store_true", help="only the SQLite pass of the web benchmarks")
    args = parser.parse_args()
    failed = []
    for command in WEB_SCRIPTS:
        if not run(WEB, command, args.quick):
            failed.append(f"{command[0]} (SQLite)")
    postgres = not args.no_postgres and os.geteuid() == 0 and shutil.which("runuser")
    if postgres:
        # One cluster for the whole PostgreSQL pass, so seeding happens once.
        script = " && ".join(
            f"{WEB} {' '.join([*c, *(QUICK_ARGS.get(c[0], []) if args.quick else [])])}" for c in WEB_SCRIPTS
        )
        print("\n=== the same on PostgreSQL (bin/with-postgres) ===", flush=True)
        if subprocess.run(["bin/with-postgres", "bash", "-c", script], cwd=ROOT, check=False).returncode != 0:
            failed.append("web benchmarks (PostgreSQL)")
    else:
        print("\n(Skipping the PostgreSQL pass: it needs root and the postgresql package; see bin/with-postgres.)")
    for command in RUNNER_SCRIPTS:
        if not run(RUNNER, command, args.quick):
            failed.append(command[0])
    if failed:
        print(f"\nFailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
