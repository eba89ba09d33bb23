"""What the trusted harness scripts (kv/harness_measure.py, bench/harness_run.py) share: reading
their input.json and appending progress lines. Scripts that run learner code (harness_call.py,
run_script.py) are bound into the sandbox alone and must not import this."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any


def read_job(argv: list[str], *, required: tuple[str, ...] = ()) -> tuple[dict[str, Any], Path] | None:
    """(job, output path) from ``script input.json output.json``; None, with the reason on stderr,
    for a bad command line or an unreadable input (the script then exits with status 2)."""
    if len(argv) != 3:
        print(f"usage: {Path(argv[0]).name} input.json output.json", file=sys.stderr)
        return None
    try:
        job = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
        if not isinstance(job, dict) or any(key not in job for key in required):
            wanted = f" with {', '.join(repr(key) for key in required)}" if required else ""
            raise ValueError(f"input must be a JSON object{wanted}")
    except (OSError, ValueError) as exc:
        print(f"cannot read input: {exc}", file=sys.stderr)
        return None
    return job, Path(argv[2])


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


def progress_writer(path: Path | None = None) -> Callable[[dict[str, Any]], None]:
    """A function appending one JSON line per event to progress.jsonl in the working directory
    (or `path`); best effort: the output file is what counts, so a failed write is dropped."""
    target = path or Path.cwd() / "progress.jsonl"

    def emit(event: dict[str, Any]) -> None:
        try:
            with target.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(event, sort_keys=True) + "\n")
        except OSError:
            pass

    return emit
