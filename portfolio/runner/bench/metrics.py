"""Latency and throughput metrics of an inference benchmark, from per-request raw timings.

Standard library only (the web app imports it, on Python 3.12; the runner on 3.11). The same
functions compute the numbers the harness reports and recompute them later from the stored raw
timings or from a learner's uploaded arrays, so a stored result can always be re-derived.

Determinism: floats are summed with ``math.fsum`` (exactly rounded), never the builtin ``sum``,
whose float algorithm changed in Python 3.12; the same raw timings give bit-identical metrics
on 3.11 and 3.12.

Percentiles use linear interpolation between closest ranks, numpy's default ("linear", method 7
of Hyndman and Fan), implemented operation for operation so results equal ``numpy.percentile``
(checked in the runner-env tests).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from . import stats
from .stats import percentile

PERCENTILE_METHOD = (
    "linear interpolation between closest ranks (numpy.percentile's default, 'linear'): for n "
    "sorted values and percentile p, the virtual index is (n - 1) * p / 100 and the result "
    "interpolates between the two values around it"
)
REPORTED_PERCENTILES = (50, 90, 95, 99)

# Tolerances for compare_claims. Relative: 2 % by default. Two identical computations from the
# same arrays agree far closer than that; the band absorbs rounding in a pasted summary, a
# duration measured a little differently from ours (a tool's clock usually starts before its first
# request), and means summed in a different order. A percentile computed with another method
# (nearest rank) on a small sample can differ by more and is flagged on purpose: the learner
# should state their method. Absolute floors stop rounding of tiny values from being flagged:
# 0.01 ms is the precision vLLM prints. Counts must match exactly.
DEFAULT_REL_TOL = 0.02
ABS_TOL = {"ms": 0.01, "per_s": 0.01, "s": 0.01, "count": 0.0}


# ---------------------------------------------------------------------------------------------
# Basic statistics
# ---------------------------------------------------------------------------------------------


def summarize(values: Sequence[float]) -> dict[str, Any]:
    """n, mean, population std, min, max, median and the reported percentiles; None when empty."""
    n = len(values)
    if n == 0:
        out: dict[str, Any] = {
            "n": 0,
            "mean": None,
            "std": None,
            "min": None,
            "max": None,
            "median": None,
        }
        out.update({f"p{p}": None for p in REPORTED_PERCENTILES})
        return out
    mean = math.fsum(values) / n
    std = math.sqrt(math.fsum((x - mean) ** 2 for x in values) / n)
    out = {
        "n": n,
        "mean": mean,
        "std": std,
        "min": min(values),
        "max": max(values),
        "median": percentile(values, 50),
    }
    out.update({f"p{p}": percentile(values, p) for p in REPORTED_PERCENTILES})
    return out


# ---------------------------------------------------------------------------------------------
# Request records. Every source (our harness, an uploaded file) is turned into this one shape:
#   {"start_s": float | None, "ttft_s": float | None, "itl_s": [float], "latency_s": float | None,
#    "prompt_tokens": int | None, "output_tokens": int, "error": str | None}
# ---------------------------------------------------------------------------------------------


def requests_from_harness_level(
    level: dict[str, Any],
) -> tuple[list[dict[str, Any]], float]:
    """Records and the level's duration (s) from our harness's raw level (integer nanoseconds).

    TTFT = first token time - start; the gaps between consecutive token times are the ITLs;
    latency = end - start, where end is the time of the last token. Duration runs from the
    first request's start to the last request's end. A request's start is its batch's prefill
    (static batching, closed loop) or its scheduled arrival (every other mode), so time spent
    queued counts. Ramp-up requests, and requests a level stopped early never ran, are left out.
    """
    records = []
    starts, ends = [], []
    for req in level["requests"]:
        if req.get("ramp_up") or req.get("not_run"):
            continue
        start, tokens, end = req["start_ns"], req["token_ns"], req["end_ns"]
        starts.append(start)
        ends.append(end)
        error = req.get("error")
        if error or not tokens:
            records.append(
                {
                    "start_s": start / 1e9,
                    "ttft_s": None,
                    "itl_s": [],
                    "latency_s": None,
                    "prompt_tokens": req.get("prompt_tokens"),
                    "output_tokens": len(tokens),
                    "error": error or "no token produced",
                }
            )
            continue
        records.append(
            {
                "start_s": start / 1e9,
                "ttft_s": (tokens[0] - start) / 1e9,
                "itl_s": [(b - a) / 1e9 for a, b in zip(tokens, tokens[1:], strict=False)],
                "latency_s": (end - start) / 1e9,
                "prompt_tokens": req.get("prompt_tokens"),
                "output_tokens": len(tokens),
                "error": None,
            }
        )
    duration = (max(ends) - min(starts)) / 1e9 if starts else 0.0
    return records, duration


def check_harness_level(level: dict[str, Any]) -> list[str]:
    """Problems with a raw harness level: counts, ordering. Empty when the timings are coherent."""
    problems = []
    for req in level["requests"]:
        rid = req.get("id")
        tokens = req["token_ns"]
        if req.get("error"):
            continue
        if len(tokens) != req["output_tokens"]:
            problems.append(f"request {rid}: {len(tokens)} token times for {req['output_tokens']} output tokens")
        if tokens and req["start_ns"] > tokens[0]:
            problems.append(f"request {rid}: first token before the start")
        if any(b <= a for a, b in zip(tokens, tokens[1:], strict=False)):
            problems.append(f"request {rid}: token times not strictly increasing")
        if tokens and req["end_ns"] != tokens[-1]:
            problems.append(f"request {rid}: end is not the last token's time")
    return problems


def from_arrival(records: list[dict[str, Any]], arrivals: Sequence[float]) -> tuple[list[dict[str, Any]], float]:
    """The same records measured from each request's scheduled arrival, and their duration.

    The time a request waited between its arrival and being sent is added to its TTFT and its
    latency (ITLs and TPOT do not change); the duration runs from the earliest arrival to the
    latest end.
    """
    out = []
    ends = []
    for r, arrival in zip(records, arrivals, strict=True):
        wait = r["start_s"] - float(arrival)
        moved = dict(r, start_s=float(arrival))
        if not r["error"]:
            moved.update(ttft_s=r["ttft_s"] + wait, latency_s=r["latency_s"] + wait)
            ends.append(r["start_s"] + r["latency_s"])
        else:
            ends.append(r["start_s"])
        out.append(moved)
    return out, max(ends) - min(float(a) for a in arrivals)


def requests_from_arrays(
    raw: dict[str, Any],
) -> tuple[list[dict[str, Any]], float, str]:
    """Records, duration (s) and where the duration came from, for vLLM-style per-request arrays.

    A request failed when its ``errors`` entry is a non-empty string. The duration is the
    uploaded ``duration`` when given, else from the earliest start to the latest start + latency.
    """
    n = len(raw["ttfts"])
    errors = raw.get("errors") or [None] * n
    starts = raw.get("start_times")
    itls = raw.get("itls") or [[] for _ in range(n)]
    inputs = raw.get("input_lens")
    records = []
    for i in range(n):
        failed = bool(errors[i])
        records.append(
            {
                "start_s": float(starts[i]) if starts is not None else None,
                "ttft_s": None if failed else float(raw["ttfts"][i]),
                "itl_s": [] if failed else [float(x) for x in itls[i]],
                "latency_s": None if failed else float(raw["latencies"][i]),
                "prompt_tokens": inputs[i] if inputs is not None else None,
                "output_tokens": int(raw["output_lens"][i]),
                "error": str(errors[i]) if failed else None,
            }
        )
    if raw.get("duration") is not None:
        return records, float(raw["duration"]), "uploaded raw.duration"
    if starts is None:
        raise ValueError("raw arrays need start_times or duration")
    ends = [float(starts[i]) + (float(raw["latencies"][i]) if not errors[i] else 0.0) for i in range(n)]
    return (
        records,
        max(ends) - min(float(s) for s in starts),
        "derived: latest (start + latency) - earliest start",
    )


# ---------------------------------------------------------------------------------------------
# Level metrics
# ---------------------------------------------------------------------------------------------


def tpot_s(record: dict[str, Any]) -> float | None:
    """(latency - TTFT) / (output_tokens - 1); None for a request with fewer than 2 tokens."""
    if record["error"] or record["output_tokens"] < 2:
        return None
    return (record["latency_s"] - record["ttft_s"]) / (record["output_tokens"] - 1)


def _meets_slo(record: dict[str, Any], slo: dict[str, float]) -> bool:
    # As vLLM: the SLO is met when the value is at most the limit; a request with one output
    # token has no TPOT and counts as meeting a TPOT SLO (vLLM uses 0 for it).
    if "ttft_ms" in slo and record["ttft_s"] > slo["ttft_ms"] / 1000.0:
        return False
    if "e2e_ms" in slo and record["latency_s"] > slo["e2e_ms"] / 1000.0:
        return False
    if "tpot_ms" in slo:
        tpot = tpot_s(record)
        if tpot is not None and tpot > slo["tpot_ms"] / 1000.0:
            return False
    return True


def _ms(values: Iterable[float]) -> list[float]:
    return [v * 1000.0 for v in values]


def compute_level(
    records: Sequence[dict[str, Any]],
    duration_s: float,
    slo: dict[str, float] | None = None,
) -> dict[str, Any]:
    """All metrics of one concurrency level from its request records.

    Latency statistics cover completed requests only; failed requests count in ``failed`` and
    in nothing else. Throughputs divide by ``duration_s``. Goodput is None when no SLO is given.
    """
    slo = dict(slo or {})
    done = [r for r in records if not r["error"]]
    failed = [r for r in records if r["error"]]
    ttfts = _ms(r["ttft_s"] for r in done)
    tpots = _ms(t for t in (tpot_s(r) for r in done) if t is not None)
    itls = _ms(g for r in done for g in r["itl_s"])
    e2es = _ms(r["latency_s"] for r in done)
    out_tokens = sum(r["output_tokens"] for r in done)
    known_inputs = all(r["prompt_tokens"] is not None for r in done)
    in_tokens = sum(r["prompt_tokens"] for r in done) if known_inputs else None

    def rate(x: float | None) -> float | None:
        if x is None or duration_s <= 0:
            return None
        return x / duration_s

    good = sum(1 for r in done if _meets_slo(r, slo)) if slo else None
    return {
        "completed": len(done),
        "failed": len(failed),
        "errors": dict(Counter(r["error"] for r in failed).most_common(10)),
        "duration_s": duration_s,
        "ttft_ms": {**summarize(ttfts), "reported": stats.reported(ttfts)},
        "tpot_ms": {**summarize(tpots), "reported": stats.reported(tpots)},
        "itl_ms": {**summarize(itls), "reported": stats.reported(itls, interval=False)},
        "e2e_ms": {**summarize(e2es), "reported": stats.reported(e2es)},
        "total_output_tokens": out_tokens,
        "total_input_tokens": in_tokens,
        "requests_per_s": rate(len(done)),
        "output_tokens_per_s": rate(out_tokens),
        "input_tokens_per_s": rate(in_tokens),
        "total_tokens_per_s": rate(None if in_tokens is None else in_tokens + out_tokens),
        "slo": slo,
        "good_requests": good,
        "goodput_rps": rate(good) if slo else None,
    }


def metrics_from_harness_raw(raw: dict[str, Any], slo: dict[str, float] | None = None) -> dict[str, Any]:
    """The harness's metrics section, recomputable from its stored raw section alone."""
    levels = []
    for level in raw["levels"]:
        records, duration = requests_from_harness_level(level)
        levels.append(
            {
                "concurrency": level["concurrency"],
                "batching": raw["batching"],
                **{key: level[key] for key in LEVEL_LABELS if key in level},
                **compute_level(records, duration, slo),
            }
        )
    return {"percentile_method": PERCENTILE_METHOD, "levels": levels}


# What a raw level says about itself, copied into its metrics: the offered rate (open loop), the
# trial, its part in a sweep (sync, saturation, sweep, search) and why it stopped early.
LEVEL_LABELS = ("rate", "trial", "role", "stopped_early")


# ---------------------------------------------------------------------------------------------
# Claims: vLLM's flat names, and the comparison
# ---------------------------------------------------------------------------------------------

_VLLM_METRIC = {"ttft": "ttft_ms", "tpot": "tpot_ms", "itl": "itl_ms", "e2el": "e2e_ms"}
_STAT_KEYS = {
    "mean": "mean",
    "median": "median",
    "std": "std",
    "min": "min",
    "max": "max",
}
_STAT_KEYS.update({f"p{p}": f"p{p}" for p in REPORTED_PERCENTILES})


def to_vllm_names(level: dict[str, Any]) -> dict[str, float | int | None]:
    """A level's metrics under the flat names of vLLM's result file (what uploads claim)."""
    flat: dict[str, float | int | None] = {}
    for short, ours in _VLLM_METRIC.items():
        for stat_name, stat_key in _STAT_KEYS.items():
            flat[f"{stat_name}_{short}_ms"] = level[ours][stat_key]
    flat.update(
        {
            "completed": level["completed"],
            "failed": level["failed"],
            "duration": level["duration_s"],
            "total_input_tokens": level["total_input_tokens"],
            "total_output_tokens": level["total_output_tokens"],
            "request_throughput": level["requests_per_s"],
            "output_throughput": level["output_tokens_per_s"],
            "total_token_throughput": level["total_tokens_per_s"],
            "request_goodput": level["goodput_rps"],
        }
    )
    return flat


def _unit(key: str) -> str:
    if key.endswith("_ms"):
        return "ms"
    if key in ("completed", "failed", "total_input_tokens", "total_output_tokens"):
        return "count"
    if key == "duration":
        return "s"
    return "per_s"


def comparison_rows(
    recomputed: dict[str, Any],
    claimed: dict[str, float],
    rel_tol: float = DEFAULT_REL_TOL,
) -> list[dict[str, Any]]:
    """One row per claimed number: status "ok", "mismatch" or "unverifiable", with the gap.

    A claim is a mismatch when |claimed - recomputed| exceeds both rel_tol x |recomputed| and the
    absolute floor for its unit (ABS_TOL); counts must be equal. It is unverifiable when the
    uploaded data cannot produce the number (e.g. goodput without SLOs, total tokens without
    input lengths).
    """
    rows = []
    for key in sorted(claimed):
        value = claimed[key]
        unit = _unit(key)
        ours = recomputed.get(key)
        row: dict[str, Any] = {
            "metric": key,
            "unit": unit,
            "claimed": value,
            "recomputed": ours,
        }
        if ours is None:
            row.update(
                status="unverifiable",
                abs_diff=None,
                rel_diff=None,
                reason="cannot be recomputed from the uploaded data",
            )
        else:
            diff = abs(value - ours)
            rel = diff / abs(ours) if ours else (0.0 if diff == 0 else math.inf)
            allowed = 0.0 if unit == "count" else max(rel_tol * abs(ours), ABS_TOL[unit])
            ok = diff <= allowed
            row.update(
                status="ok" if ok else "mismatch",
                abs_diff=diff,
                rel_diff=rel,
                reason=None
                if ok
                else (
                    f"claimed {value:g} vs recomputed {ours:g} ({rel:.1%} off; "
                    + ("counts must match exactly" if unit == "count" else f"tolerance {rel_tol:.0%}")
                    + ")"
                ),
            )
        rows.append(row)
    return rows


def compare_claims(
    recomputed: dict[str, Any],
    claimed: dict[str, float],
    rel_tol: float = DEFAULT_REL_TOL,
) -> list[dict[str, Any]]:
    """The claimed numbers that disagree with the recomputation or cannot be checked."""
    return [row for row in comparison_rows(recomputed, claimed, rel_tol) if row["status"] != "ok"]


# ---------------------------------------------------------------------------------------------
# Definitions for the results page
# ---------------------------------------------------------------------------------------------

DEFINITIONS: list[dict[str, str]] = [
    {
        "metric": "TTFT (time to first token)",
        "definition": (
            "Time from the moment a request's batch is handed to the model (its prefill starts) to "
            "the moment its first generated token is on the host. On a GPU we synchronise the "
            "device before reading the clock, so the token really exists."
        ),
        "vs_vllm": (
            "vLLM measures from the HTTP request being sent to the first streamed chunk, so its TTFT "
            "also includes networking, tokenisation, the scheduler's queue and detokenisation. Ours "
            "is the model's own time, in-process; it does include waiting for the longest prompt "
            "of the batch, because a static batch prefills all its prompts together."
        ),
    },
    {
        "metric": "TPOT (time per output token)",
        "definition": (
            "Per request, (E2E latency - TTFT) / (output tokens - 1): the average time between "
            "tokens after the first. Requests with one output token have no TPOT and are left out "
            "of its statistics."
        ),
        "vs_vllm": (
            "The same formula. vLLM counts output tokens from the server's usage field; we force "
            "every output length, so the count is exact. When no request has 2 or more tokens vLLM "
            "reports 0 and we report nothing."
        ),
    },
    {
        "metric": "ITL (inter-token latency)",
        "definition": (
            "Every gap between two consecutive tokens of a request, pooled over all requests of "
            "the level, and then summarised. The harness emits exactly one token per request per "
            "decode step, so a chunk is a token here."
        ),
        "vs_vllm": (
            "vLLM's ITL is the gap between streamed chunks, and a chunk may hold several tokens, "
            "so its ITL can exceed its TPOT. With one token per chunk, as here, the two agree; the "
            "mean ITL still weights long requests more than the mean TPOT does."
        ),
    },
    {
        "metric": "E2E latency",
        "definition": "Time from a request's start (as for TTFT) to the moment its last token is on the host.",
        "vs_vllm": (
            "vLLM's e2el runs from sending the request to its last chunk and leaves out the time a "
            "request waits for a client concurrency slot; ours likewise starts when the request "
            "enters a batch, not when it was queued behind earlier batches."
        ),
    },
    {
        "metric": "Percentiles (p50, p90, p95, p99) and mean",
        "definition": (
            f"Percentiles use {PERCENTILE_METHOD}. Means are exact (math.fsum) averages; std is "
            "the population standard deviation. Latency statistics cover completed requests only."
        ),
        "vs_vllm": (
            "vLLM also uses numpy's default percentile, but prints only p99 unless asked. MLPerf's "
            "nearest-rank percentile can differ on small samples."
        ),
    },
    {
        "metric": "Throughput",
        "definition": (
            "Over the level's duration, from the first request's start to the last request's end "
            "(warm-ups and model construction excluded): completed requests per second, output "
            "tokens per second, and prompt plus output tokens per second."
        ),
        "vs_vllm": (
            "vLLM divides by the benchmark's wall time, which starts before its first request and "
            "includes client overhead, so its figures are slightly lower for the same run."
        ),
    },
    {
        "metric": "Goodput",
        "definition": (
            "Completed requests that meet every SLO given (TTFT, TPOT, E2E; a value equal to the "
            "limit meets it) per second of the level's duration. Without an SLO there is no goodput."
        ),
        "vs_vllm": (
            "The DistServe definition vLLM uses (request_goodput). vLLM omits it when no --goodput "
            "is given; we report null."
        ),
    },
    {
        "metric": "Failures",
        "definition": (
            "A request that raised or produced no token is failed: counted, its error kept, and "
            "left out of latency statistics and throughput counts (its time still counts in the "
            "duration)."
        ),
        "vs_vllm": "As vLLM's completed and failed counts.",
    },
    {
        "metric": "Peak memory",
        "definition": (
            "On a GPU: torch.cuda.max_memory_allocated during the level, the peak of tensors the "
            "caching allocator handed out (not the CUDA context or the allocator's reserve). On a "
            "CPU: the process's peak resident set size during the level, from the kernel's VmHWM "
            "counter (includes Python and libraries)."
        ),
        "vs_vllm": (
            "vLLM's benchmark client does not measure memory; the server preallocates most of "
            "the GPU for its KV cache, so its usage is not comparable."
        ),
    },
]
