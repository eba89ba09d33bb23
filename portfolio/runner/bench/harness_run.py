"""Harness script: ``RUNNER_PYTHON -I harness_run.py input.json output.json``.

Input (JSON object):
    spec              the workload spec (required; see workload.SPEC_SCHEMA)
    device            "auto" (default: CUDA when available, else CPU), "cpu" or "cuda"
    cpu_memory_bytes  the memory budget on a CPU runner (default: fitting.CPU_DEFAULT_MEMORY_BYTES)
    roofline          measure bandwidth and report the roofline (default true)
    bandwidth_bytes   size of the bandwidth test's buffer (default 256 MiB CPU / 1 GiB GPU)
    threads           torch intra-op threads (default: torch's own choice)

Output: the dict of harness.run_benchmark, whose "status" is "ok", "invalid" (spec errors, each
naming its field) or "refused" (the device cannot hold the workload; the reason), or "error"
with a traceback when the harness itself failed. Exit status 0 when output.json says ok,
invalid or refused; 1 for a harness error; 2 for a bad command line or unreadable input.

Progress: one JSON object per line appended to progress.jsonl in the working directory.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

# `python -I` leaves the script's folder and the working directory off sys.path; put the
# repository root (four levels up: bench, runner, portfolio, root) there ourselves.
ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from portfolio.runner.harness.trusted import progress_writer, read_job  # noqa: E402 - after the path


def main(argv: list[str]) -> int:
    read = read_job(argv, required=("spec",))
    if read is None:
        return 2
    job, out_path = read
    emit = progress_writer()
    try:
        from portfolio.runner.bench import harness

        emit({"stage": "start"})
        result = harness.run_benchmark(
            job["spec"],
            device=job.get("device", "auto"),
            cpu_memory_bytes=job.get("cpu_memory_bytes"),
            roofline=job.get("roofline", True),
            bandwidth_bytes=job.get("bandwidth_bytes"),
            threads=job.get("threads"),
            progress=emit,
        )
        code = 0
    except Exception as exc:  # the harness's own failure: report it, let the worker call it a system error
        result = {
            "status": "error",
            "message": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc()[-4000:],
        }
        code = 1
    out_path.write_text(json.dumps(result), encoding="utf-8")
    emit({"stage": "end", "status": result["status"]})
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
