"""Recompute a learner's uploaded benchmark results and compare them with what they claimed.

Standard library only. The upload is validated by ``results.validate_results``; its per-request
arrays go through the same ``metrics`` code as our own harness's timings, so a claimed number
is checked against exactly the definitions on the results page.
"""

from __future__ import annotations

import math
from typing import Any

from . import lengths, metrics, results

# How far ttft + sum(itl) may drift from the latency before the arrays are called inconsistent.
# vLLM builds latency from the same timestamps, so they agree to float rounding; 1 ms or 1 %
# leaves room for tools that take the final timestamp a little later than the last chunk.
CONSISTENCY_ABS_S = 0.001
CONSISTENCY_REL = 0.01


def _raw_checks(doc: dict[str, Any], records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flags about the arrays themselves: counts against the workload, impossible timings."""
    flags: list[dict[str, Any]] = []
    workload = doc["workload"]
    raw = doc["raw"]
    if len(records) != workload["num_requests"]:
        flags.append(
            {
                "metric": "workload.num_requests",
                "status": "mismatch",
                "claimed": workload["num_requests"],
                "recomputed": len(records),
                "reason": f"the workload says {workload['num_requests']} requests; the raw arrays hold {len(records)}",
            }
        )
    for key, field in (
        ("output_tokens", "output_lens"),
        ("prompt_tokens", "input_lens"),
    ):
        dist = workload[key]
        if field not in raw:
            continue
        lo, hi = lengths.bounds(dist)
        done = [r for r in records if not r["error"]]
        lens = [r["output_tokens"] if field == "output_lens" else r["prompt_tokens"] for r in done]
        outside = [n for n in lens if not lo <= n <= hi]
        if outside:
            flags.append(
                {
                    "metric": f"workload.{key}",
                    "status": "mismatch",
                    "claimed": dist,
                    "recomputed": {"min": min(lens), "max": max(lens)},
                    "reason": f"{len(outside)} completed requests have {field} outside {lo}..{hi} (did they stop early at EOS?)",
                }
            )
    bad_order, bad_sum = [], []
    for i, r in enumerate(records):
        if r["error"]:
            continue
        if r["ttft_s"] > r["latency_s"]:
            bad_order.append(i)
        elif r["itl_s"]:
            total = r["ttft_s"] + math.fsum(r["itl_s"])
            if abs(total - r["latency_s"]) > max(CONSISTENCY_ABS_S, CONSISTENCY_REL * r["latency_s"]):
                bad_sum.append(i)
    if bad_order:
        flags.append(
            {
                "metric": "raw.ttfts",
                "status": "mismatch",
                "claimed": None,
                "recomputed": None,
                "reason": f"TTFT exceeds the E2E latency for requests {bad_order[:10]}",
            }
        )
    if bad_sum:
        flags.append(
            {
                "metric": "raw.itls",
                "status": "mismatch",
                "claimed": None,
                "recomputed": None,
                "reason": f"ttft + sum(itls) differs from the latency by more than 1 ms / 1 % for requests {bad_sum[:10]}",
            }
        )
    return flags


def recompute_upload(document: Any, rel_tol: float = metrics.DEFAULT_REL_TOL) -> dict[str, Any]:
    """Validate an upload, recompute its metrics from the raw arrays, compare with the claims.

    Returns ``{"valid": False, "errors": [...]}`` for an invalid document, otherwise
    ``{"valid": True, "recomputed": level metrics | None, "comparisons": [every claim],
    "flagged": [claims and array checks that failed], "duration_source": str | None,
    "rel_tol": float, "notes": [str]}``. Without raw arrays nothing can be recomputed and every
    claim is "unverifiable".
    """
    doc, errors = results.validate_results(document)
    if errors:
        return {"valid": False, "errors": errors}
    assert doc is not None
    notes = [
        f"Claims are compared with a relative tolerance of {rel_tol:.0%} and absolute floors of "
        f"{metrics.ABS_TOL['ms']} ms / {metrics.ABS_TOL['per_s']} per s; counts must match exactly.",
        "ITL entries are taken as uploaded: if your tool streams several tokens per chunk they are chunk gaps.",
    ]
    if doc["raw"] is None:
        rows = metrics.comparison_rows({}, doc["claimed"], rel_tol)
        for row in rows:
            row["reason"] = "no raw arrays uploaded"
        return {
            "valid": True,
            "recomputed": None,
            "comparisons": rows,
            "flagged": rows,
            "duration_source": None,
            "rel_tol": rel_tol,
            "notes": [
                *notes,
                "Upload raw per-request arrays to have your numbers checked.",
            ],
        }
    records, duration, source = metrics.requests_from_arrays(doc["raw"])
    level = metrics.compute_level(records, duration, doc["workload"]["slo"])
    queued = None
    if doc["raw"].get("arrival_times") is not None:
        moved, span = metrics.from_arrival(records, doc["raw"]["arrival_times"])
        queued = metrics.compute_level(moved, span, doc["workload"]["slo"])
        notes.append(
            "With arrival_times, TTFT and E2E are also recomputed from each request's scheduled arrival "
            "(queueing included), as our harness measures an open loop; claims are checked against the "
            "send-time figures, as vLLM reports them."
        )
    rows = metrics.comparison_rows(metrics.to_vllm_names(level), doc["claimed"], rel_tol)
    flagged = [row for row in rows if row["status"] != "ok"] + _raw_checks(doc, records)
    if source.startswith("derived"):
        notes.append(
            "The duration was derived from the arrays (earliest start to latest end); a tool "
            "that starts its clock earlier reports slightly lower throughputs."
        )
    return {
        "valid": True,
        "recomputed": level,
        "recomputed_from_arrival": queued,
        "comparisons": rows,
        "flagged": flagged,
        "duration_source": source,
        "rel_tol": rel_tol,
        "notes": notes,
    }
