"""Recompute of uploaded raw results: a faithful upload passes, a tampered claim is flagged."""

from __future__ import annotations

import copy
import math
from typing import Any

from portfolio.runner.bench import uploads

# Ten requests at concurrency 2: (start, ttft, itl gaps) in seconds, 4 output tokens each.
STARTS = [0.0, 0.0, 0.3, 0.3, 0.6, 0.6, 0.9, 0.9, 1.2, 1.2]
TTFTS = [0.05, 0.06, 0.05, 0.07, 0.05, 0.05, 0.08, 0.05, 0.06, 0.05]
ITLS = [[0.02, 0.03, 0.02]] * 5 + [[0.02, 0.02, 0.02]] * 5


def _doc() -> dict[str, Any]:
    latencies = [t + math.fsum(g) for t, g in zip(TTFTS, ITLS, strict=True)]
    return {
        "workload": {
            "model": "Qwen/Qwen2.5-0.5B-Instruct",
            "dtype": "bfloat16",
            "hardware": "1x NVIDIA L4",
            "engine": "vllm",
            "engine_version": "0.11.0",
            "prompt_tokens": 128,
            "output_tokens": 4,
            "concurrency": 2,
            "num_requests": 10,
            "slo": {"ttft_ms": 60},
        },
        "claimed": {},
        "raw": {
            "start_times": STARTS,
            "ttfts": TTFTS,
            "itls": ITLS,
            "latencies": latencies,
            "output_lens": [4] * 10,
            "input_lens": [128] * 10,
            "errors": [""] * 10,
        },
    }


def honest_claims() -> dict[str, float]:
    """What the learner's own tool would have printed: computed here independently, by hand."""
    ttfts_ms = sorted(t * 1000 for t in TTFTS)  # 50 x6, 60 x2, 70, 80
    latencies = [t + math.fsum(g) for t, g in zip(TTFTS, ITLS, strict=True)]
    duration = max(s + lat for s, lat in zip(STARTS, latencies, strict=True)) - 0.0
    good = sum(1 for t in TTFTS if t <= 0.060)
    return {
        "mean_ttft_ms": round(sum(ttfts_ms) / 10, 2),  # 57.0
        "median_ttft_ms": 50.0,
        "p99_ttft_ms": round(ttfts_ms[8] + 0.91 * (ttfts_ms[9] - ttfts_ms[8]), 2),  # index 8.91
        "mean_tpot_ms": round(sum(math.fsum(g) / 3 * 1000 for g in ITLS) / 10, 2),
        "completed": 10,
        "failed": 0,
        "total_output_tokens": 40,
        "output_throughput": round(40 / duration, 3),
        "request_throughput": round(10 / duration, 3),
        "request_goodput": round(good / duration, 3),
    }


def test_honest_upload_has_no_flags() -> None:
    doc = _doc()
    doc["claimed"] = honest_claims()
    result = uploads.recompute_upload(doc)
    assert result["valid"] and result["flagged"] == [], result["flagged"]
    assert all(row["status"] == "ok" for row in result["comparisons"])
    assert result["recomputed"]["good_requests"] == 8
    assert result["duration_source"].startswith("derived")


def test_tampered_claim_is_flagged() -> None:
    doc = _doc()
    claims = honest_claims()
    claims["p99_ttft_ms"] = round(claims["p99_ttft_ms"] * 0.9, 2)  # a 10 % better tail than measured
    doc["claimed"] = claims
    result = uploads.recompute_upload(doc)
    assert [row["metric"] for row in result["flagged"]] == ["p99_ttft_ms"]
    row = result["flagged"][0]
    assert row["status"] == "mismatch" and 0.09 < row["rel_diff"] < 0.11 and "tolerance 2%" in row["reason"]


def test_tampered_raw_array_is_caught_by_the_recompute() -> None:
    doc = _doc()
    doc["claimed"] = honest_claims()
    doc["raw"]["ttfts"] = [t * 0.5 for t in TTFTS]  # arrays edited, latencies left alone
    flagged = {row["metric"] for row in uploads.recompute_upload(doc)["flagged"]}
    assert {"mean_ttft_ms", "raw.itls"} <= flagged  # ttft + sum(itl) no longer equals the latency


def test_count_and_workload_mismatches_are_flagged() -> None:
    doc = _doc()
    doc["claimed"] = {"completed": 9}
    doc["workload"]["num_requests"] = 12
    doc["raw"]["output_lens"] = [4] * 9 + [3]
    flagged = {row["metric"]: row for row in uploads.recompute_upload(doc)["flagged"]}
    assert set(flagged) == {"completed", "workload.num_requests", "workload.output_tokens"}
    assert "EOS" in flagged["workload.output_tokens"]["reason"]
    assert flagged["workload.num_requests"]["recomputed"] == 10


def test_without_raw_every_claim_is_unverifiable() -> None:
    doc = _doc()
    del doc["raw"]
    doc["claimed"] = {"mean_ttft_ms": 57.0, "output_throughput": 10.0}
    result = uploads.recompute_upload(doc)
    assert result["recomputed"] is None
    assert [row["status"] for row in result["flagged"]] == ["unverifiable", "unverifiable"]


def test_goodput_claim_without_slo_is_unverifiable() -> None:
    doc = _doc()
    del doc["workload"]["slo"]
    doc["claimed"] = {"request_goodput": 5.0}
    result = uploads.recompute_upload(doc)
    assert result["flagged"][0]["metric"] == "request_goodput" and result["flagged"][0]["status"] == "unverifiable"


def test_invalid_upload_returns_errors() -> None:
    doc = copy.deepcopy(_doc())
    del doc["workload"]["engine_version"]
    doc["claimed"] = {"mean_ttft_ms": 1.0}
    result = uploads.recompute_upload(doc)
    assert result == {
        "valid": False,
        "errors": [{"path": "workload.engine_version", "message": result["errors"][0]["message"]}],
    }
