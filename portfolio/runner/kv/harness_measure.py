"""Harness script (the trusted step): ``RUNNER_PYTHON -I harness_measure.py input.json output.json``.

Measures the ground truth for a list of requests; it never sees learner code.

Input (JSON object):
    requests   [{"id": str, "config": {...config.json...}, "batch_size": int, "seq_len": int,
                 "dtype": "float32" | "float16" | "bfloat16"}, ...]; a request may also name its
               own device, size or attention, overriding the job's
    device     "auto" (default), "cpu" or "cuda"           (see measure.measure)
    size       "auto" (default), "full", "reduced", "depth"
    attention  "auto" (default), "model", "skip"
    reuse_public_table  take a request whose id is a public case's measurement from the committed
               table (cases.table_measurements) when this runner has the torch and transformers
               versions that measured it; such a result carries "reused": true (default false)
    threads    torch intra-op threads (default: torch's own choice, i.e. OMP_NUM_THREADS). On the
               2-core development machine one thread measured faster than two, in wall and CPU
               time: the reduced models run many small, memory-bound operations.

Output: {"status": "ok" | "error", "measurements": {id: measure() result, or {"error": text}},
"versions": {...}, "device": str, "wall_s": float}; "error" (with a traceback) only when the
harness itself failed before measuring. Exit status 0 when output.json was written with status
ok, 1 otherwise, 2 for a bad command line or unreadable input.

Progress: one JSON line per request appended to progress.jsonl in the working directory.
"""

from __future__ import annotations

import sys
import time
import traceback
from pathlib import Path
from typing import Any

# `python -I` leaves the script's folder off sys.path; the repository root is four levels up
# (kv, runner, portfolio, root), which is also where the sandbox mounts the runner package.
ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from portfolio.runner.harness import trusted  # noqa: E402 - after the path

_emit = trusted.progress_writer()


def run(job: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    from portfolio.runner.kv import measure

    if job.get("threads"):
        import torch

        torch.set_num_threads(int(job["threads"]))
    options = {key: str(job.get(key, "auto")) for key in ("device", "size", "attention")}
    requests = job.get("requests")
    if not isinstance(requests, list):
        raise ValueError("input.requests must be a list")
    reusable: dict[str, dict[str, Any]] = {}
    if job.get("reuse_public_table"):
        from portfolio.runner.kv import cases

        reusable = cases.table_measurements(measure.versions())
    _emit({"stage": "measure", "status": "started", "total": len(requests)})
    results: dict[str, Any] = {}
    device = None
    for done, request in enumerate(requests, start=1):
        rid = str(request.get("id"))
        if rid in reusable:
            results[rid] = {**reusable[rid], "reused": True}
            continue
        try:
            chosen = {key: str(request.get(key, value)) for key, value in options.items()}
            result = measure.measure(
                request["config"],
                int(request["batch_size"]),
                int(request["seq_len"]),
                str(request["dtype"]),
                **chosen,
            )
            device = result["device"]
            results[rid] = result
            _emit({"stage": "measure", "done": done, "total": len(requests), "s": result["timing"]["total_s"]})
        except Exception as exc:  # one bad request must not hide the others' measurements
            results[rid] = {"error": f"{type(exc).__name__}: {exc}"[:2000], "traceback": traceback.format_exc()[-4000:]}
            _emit({"stage": "measure", "done": done, "total": len(requests), "error": type(exc).__name__})
    return {
        "status": "ok",
        "measurements": results,
        "versions": measure.versions(),
        "device": device,
        "wall_s": round(time.perf_counter() - started, 3),
    }


def main(argv: list[str]) -> int:
    def run_and_report(job: dict[str, Any]) -> dict[str, Any]:
        output = run(job)
        _emit({"stage": "measure", "status": output["status"]})
        return output

    return trusted.main(argv, run_and_report)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
