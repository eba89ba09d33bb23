"""Run a learner's Python script as a child process and report how it ended.

input.json: {"script": "submission/main.py", "argv": ["..."]}
output.json: {"exit_code": N} or {"signal": N}

The learner's stdout and stderr are passed straight through, so the grader reads them from the
sandbox result. This script ends the way the child did (same exit status, or the same signal) so
the sandbox classifies the child's failure, not ours.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys


def main(argv: list[str]) -> int:
    input_path, output_path = argv[1], argv[2]
    with open(input_path, encoding="utf-8") as f:
        spec = json.load(f)
    script = spec["script"]
    args = [str(a) for a in spec.get("argv", [])]
    # -E -s rather than -I: ignore PYTHON* variables and user site-packages, but keep the
    # script's own folder on sys.path so a zip's main.py can import its sibling modules.
    child = subprocess.run(
        [sys.executable, "-E", "-s", script, *args],
        stdin=subprocess.DEVNULL,
        check=False,
    )
    report = {"exit_code": child.returncode} if child.returncode >= 0 else {"signal": -child.returncode}
    try:
        with open(output_path, "w", encoding="utf-8") as f:
            json.dump(report, f)
    except OSError:
        pass  # the learner may have filled the disk or replaced the file; the exit status still tells
    if child.returncode < 0:
        sys.stdout.flush()
        signal.signal(-child.returncode, signal.SIG_DFL)
        os.kill(os.getpid(), -child.returncode)
    return child.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
