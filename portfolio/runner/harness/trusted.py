"""What the trusted harness scripts (kv/harness_measure.py, bench/harness_run.py,
tinytf/harness_check.py) share: their whole command, around `common`'s reading of input.json and
progress lines. Scripts that run learner code (harness_call.py, harness_learner.py, run_script.py)
see only `common` beside them in the sandbox and must not import this."""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from typing import Any

from portfolio.runner.harness.common import progress_writer, read_job

__all__ = ["main", "progress_writer", "read_job"]


def main(argv: list[str], run: Callable[[dict[str, Any]], dict[str, Any]], *, required: tuple[str, ...] = ()) -> int:
    """A trusted harness's whole command: read the job, `run` it, write output.json. A `run` that
    raises writes {"status": "error", "error", "traceback"}. Exit status 0 when the output says
    ok, 1 otherwise, 2 for a bad command line or input."""
    read = read_job(argv, required=required)
    if read is None:
        return 2
    job, out_path = read
    try:
        output = run(job)
    except Exception as exc:
        output = {"status": "error", "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    out_path.write_text(json.dumps(output), encoding="utf-8")
    return 0 if output.get("status") == "ok" else 1
