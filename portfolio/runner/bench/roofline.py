"""Memory-bandwidth roofline for decode steps: how fast could each step be, at best?

A decode step of a dense decoder reads every weight it multiplies by once, plus the K and V
of every cached token of every sequence in the batch. If it did nothing but stream those bytes
at the device's memory bandwidth it would take

    floor = (weight bytes read + KV bytes read) / bandwidth

and no implementation can beat that while the step is memory-bound (small batches). We report
the floor of every decode step next to its measured time, and their ratio as an efficiency
(1.0 = at the roofline). The bandwidth is measured here, with a large device-to-device copy.

Caveats, stated with the numbers: at large batches a step becomes compute-bound and the floor
understates what is reachable; on a CPU, weights small enough to stay in the last-level cache
are not re-read from DRAM, so the "floor" can be beaten; KV writes (one token per sequence per
step) are left out as about 1/context of the reads.

The math below is plain Python; only ``measure_bandwidth`` and ``weight_bytes`` import torch.
"""

from __future__ import annotations

import math
import statistics
import time
from typing import Any

from . import metrics

CPU_COPY_BYTES = 256 * 1024**2
CUDA_COPY_BYTES = 1024**3


def measure_bandwidth(device: str, nbytes: int | None = None, iterations: int | None = None) -> dict[str, Any]:
    """Copy bandwidth of the device in GB/s (10^9 bytes/s), counting read + write bytes.

    One buffer of ``nbytes`` is copied into another ``iterations`` times after two untimed
    copies. On CUDA each copy is timed with CUDA events; on CPU with perf_counter_ns (the copy
    runs on torch's intra-op threads, the same threads the model uses). The buffers are far
    larger than any cache (256 MiB on CPU, 1 GiB on GPU), so this is a main-memory figure.
    The best iteration is used for the floor: a bandwidth no slower than achieved gives a
    floor no higher than true; the median is reported beside it.
    """
    import torch

    kind = "cuda" if device.startswith("cuda") else "cpu"
    nbytes = nbytes or (CUDA_COPY_BYTES if kind == "cuda" else CPU_COPY_BYTES)
    iterations = iterations or (20 if kind == "cuda" else 10)
    n = nbytes // 4
    src = torch.ones(n, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    seconds = []
    for _ in range(2):
        dst.copy_(src)
    if kind == "cuda":
        torch.cuda.synchronize()
        for _ in range(iterations):
            start, end = (
                torch.cuda.Event(enable_timing=True),
                torch.cuda.Event(enable_timing=True),
            )
            start.record()
            dst.copy_(src)
            end.record()
            end.synchronize()
            seconds.append(start.elapsed_time(end) / 1000.0)
    else:
        for _ in range(iterations):
            t0 = time.perf_counter_ns()
            dst.copy_(src)
            seconds.append((time.perf_counter_ns() - t0) / 1e9)
    moved = 2 * n * 4
    rates = [moved / s / 1e9 for s in seconds]
    del src, dst
    if kind == "cuda":
        torch.cuda.empty_cache()
    return {
        "device": device,
        "method": (
            f"torch Tensor.copy_ of {n * 4 / 1024**2:.0f} MiB float32 into a second buffer, "
            f"{iterations} timed copies after 2 untimed; bytes moved = read + write = 2 x buffer; "
            + (
                "timed with CUDA events"
                if kind == "cuda"
                else f"timed with perf_counter_ns on {torch.get_num_threads()} threads"
            )
        ),
        "bytes_per_copy": moved,
        "iterations": iterations,
        "gb_per_s_best": max(rates),
        "gb_per_s_median": statistics.median(rates),
        "gb_per_s_all": rates,
    }


def weight_bytes(model: Any) -> dict[str, int]:
    """Bytes of the model's parameters, and the part a decode step reads in full.

    Embedding tables are looked up row by row (a few rows per step), so a table that is not
    also the output head is left out of the bytes read per step; a tied table is read in full
    by the output head and stays in. Shared tensors are counted once.
    """
    import torch

    seen: set[int] = set()
    total = 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel() * p.element_size()
    out_head = model.get_output_embeddings()
    head_weight = out_head.weight if out_head is not None else None
    lookup = 0
    counted: set[int] = set()
    for module in model.modules():
        if isinstance(module, torch.nn.Embedding):
            w = module.weight
            if w is head_weight or id(w) in counted:
                continue
            counted.add(id(w))
            lookup += w.numel() * w.element_size()
    return {
        "total_bytes": total,
        "lookup_table_bytes": lookup,
        "read_per_step_bytes": total - lookup,
    }


def step_floor_s(weight_read: int, kv_per_token: int, rows: int, context: int, bandwidth: float) -> float:
    """Seconds one decode step needs at ``bandwidth`` bytes/s: weights once, KV of rows x context tokens."""
    return (weight_read + rows * context * kv_per_token) / bandwidth


def level_roofline(level: dict[str, Any], weight_read: int, kv_per_token: int, bandwidth_gb_s: float) -> dict[str, Any]:
    """Floor vs measured time for every decode step of a harness level, and the efficiency.

    Decode step s (1-based) of a batch whose prompts are padded to P tokens attends over
    P + s cached tokens per row, padding included (it is in the cache and read, then masked).
    Its measured time is the gap between token s and token s + 1 of the batch. A request's
    floor TPOT is the mean floor over its own decode steps, matching how its TPOT averages
    its own gaps; the level's efficiency is mean floor TPOT / mean measured TPOT.
    """
    if "steps" in level:
        return _step_roofline(level, weight_read, kv_per_token, bandwidth_gb_s)
    bandwidth = bandwidth_gb_s * 1e9
    by_id = {r["id"]: r for r in level["requests"]}
    batches = []
    request_floors: list[float] = []
    request_measured: list[float] = []
    for batch in level["batches"]:
        rows, padded, n_steps = (
            batch["rows"],
            batch["padded_prompt_tokens"],
            batch["decode_steps"],
        )
        floors = [step_floor_s(weight_read, kv_per_token, rows, padded + s, bandwidth) for s in range(1, n_steps + 1)]
        members = [by_id[i] for i in batch["request_ids"]]
        longest = max(members, key=lambda r: len(r["token_ns"]))
        measured = []
        if not longest.get("error"):
            tokens = longest["token_ns"]
            measured = [(b - a) / 1e9 for a, b in zip(tokens, tokens[1:], strict=False)]
        batches.append(
            {
                "batch": batch["index"],
                "rows": rows,
                "padded_prompt_tokens": padded,
                "context_tokens_first_last": [padded + 1, padded + n_steps] if n_steps else [],
                "kv_bytes_read_first_last": [
                    rows * (padded + 1) * kv_per_token,
                    rows * (padded + n_steps) * kv_per_token,
                ]
                if n_steps
                else [],
                "floor_ms": [f * 1000.0 for f in floors],
                "measured_ms": [m * 1000.0 for m in measured],
            }
        )
        for req in members:
            k = len(req["token_ns"]) - 1
            if req.get("error") or k < 1:
                continue
            request_floors.append(math.fsum(floors[:k]) / k)
            gaps = req["token_ns"]
            request_measured.append((gaps[-1] - gaps[0]) / 1e9 / k)
    floor_mean = math.fsum(request_floors) / len(request_floors) if request_floors else None
    measured_mean = math.fsum(request_measured) / len(request_measured) if request_measured else None
    return {
        "concurrency": level["concurrency"],
        "bandwidth_gb_per_s": bandwidth_gb_s,
        "weight_bytes_read_per_step": weight_read,
        "kv_bytes_per_token": kv_per_token,
        "floor_tpot_ms_mean": None if floor_mean is None else floor_mean * 1000.0,
        "measured_tpot_ms_mean": None if measured_mean is None else measured_mean * 1000.0,
        "efficiency": (floor_mean / measured_mean) if floor_mean and measured_mean else None,
        "batches": batches,
    }


def _step_roofline(level: dict[str, Any], weight_read: int, kv_per_token: int, bandwidth_gb_s: float) -> dict[str, Any]:
    """The same for an engine level (continuous batching, open loop), from its step log.

    Each decode step reads the weights once and rows x width cached tokens (the batch's cache is
    left-padded to its widest row, and padding is read, then masked). Efficiency is the summed
    floor over the summed measured time of the decode steps; prefill steps are left out.
    """
    bandwidth = bandwidth_gb_s * 1e9
    decode = [s for s in level["steps"] if s["kind"] == "decode"]
    floors = [step_floor_s(weight_read, kv_per_token, s["rows"], s["width"], bandwidth) for s in decode]
    measured = [(s["end_ns"] - s["start_ns"]) / 1e9 for s in decode]
    floor_sum, measured_sum = math.fsum(floors), math.fsum(measured)
    return {
        "concurrency": level["concurrency"],
        "rate": level.get("rate"),
        "bandwidth_gb_per_s": bandwidth_gb_s,
        "weight_bytes_read_per_step": weight_read,
        "kv_bytes_per_token": kv_per_token,
        "floor_tpot_ms_mean": floor_sum / len(decode) * 1000.0 if decode else None,
        "measured_tpot_ms_mean": measured_sum / len(decode) * 1000.0 if decode else None,
        "efficiency": floor_sum / measured_sum if decode and measured_sum > 0 else None,
        "decode_steps": len(decode),
        "batches": [],
    }


def roofline_report(
    raw: dict[str, Any], weight_read: int, kv_per_token: int, bandwidth: dict[str, Any]
) -> dict[str, Any]:
    levels = [level_roofline(level, weight_read, kv_per_token, bandwidth["gb_per_s_best"]) for level in raw["levels"]]
    return {
        "formula": "floor per decode step = (weight bytes read + rows x context tokens x KV bytes per token) / bandwidth",
        "efficiency": "floor TPOT / measured TPOT (mean over requests); 1.0 means the decode ran at the memory roofline",
        "bandwidth": bandwidth,
        "units": {"bytes": "B", "bandwidth": "GB/s (1e9 B/s)", "times": "ms"},
        "caveats": [
            "At large batches decode becomes compute-bound and this floor understates reachable time.",
            "On a CPU, weights that fit in the last-level cache are not re-read from DRAM, so a step can beat the floor.",
            "KV writes (one token per sequence per step) are not counted.",
        ],
        "levels": levels,
        "tpot_definition": metrics.DEFINITIONS[1]["definition"],
    }
