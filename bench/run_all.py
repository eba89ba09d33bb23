"""`make bench`: run every benchmark script in turn, each in its own process, and print its figures.

Add a script by adding a line to SCRIPTS: (interpreter, script and arguments). The figures go into
docs/benchmarks.md together with the machine they came from.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WEB = sys.executable  # the web app's virtualenv, which runs this file

SCRIPTS: list[tuple[str, list[str]]] = [
    (WEB, ["bench/seed_learners.py"]),
    (WEB, ["bench/pages.py"]),
    (WEB, ["bench/team_matrix.py"]),
]


def main() -> int:
    failed = []
    for interpreter, command in SCRIPTS:
        print(f"\n=== {' '.join(command)} ===", flush=True)
        if subprocess.run([interpreter, *command], cwd=ROOT, check=False).returncode != 0:
            failed.append(command[0])
    if failed:
        print(f"\nFailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
