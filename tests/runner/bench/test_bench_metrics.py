"""Metrics on hand-computed examples. Web env, no torch.

The example level (times in ms; every prompt 10 tokens):

    request  start  token times        output  TTFT  ITLs      E2E  TPOT
    r0       0      100, 120, 150      3       100   20, 30    150  (150-100)/2 = 25
    r1       0      90, 130            2       90    40        130  (130-90)/1  = 40
    r2       200    260                1       60    -         60   none (1 token)
    r3       200    -                  failed (out of memory)

duration = last end (r2: 260) - first start (0) = 260 ms.
"""

from __future__ import annotations

import math

import pytest

from portfolio.runner.bench import metrics

MS = 1_000_000  # ns


def _req(
    rid: int, start: int, tokens: list[int], error: str | None = None, prompt: int = 10, out: int | None = None
) -> dict:
    return {
        "id": rid,
        "batch": 0,
        "prompt_tokens": prompt,
        "output_tokens": out if out is not None else len(tokens),
        "start_ns": start * MS,
        "token_ns": [t * MS for t in tokens],
        "end_ns": (tokens[-1] if tokens else start) * MS,
        "error": error,
    }


LEVEL = {
    "concurrency": 2,
    "requests": [
        _req(0, 0, [100, 120, 150]),
        _req(1, 0, [90, 130]),
        _req(2, 200, [260]),
        _req(3, 200, [], error="OutOfMemoryError: out of memory", out=4),
    ],
}


def level_metrics(slo: dict | None = None) -> dict:
    records, duration = metrics.requests_from_harness_level(LEVEL)
    return metrics.compute_level(records, duration, slo)


def test_percentile_linear_interpolation_by_hand() -> None:
    xs = [60.0, 100.0, 90.0]  # unsorted on purpose; sorted: 60, 90, 100
    assert metrics.percentile(xs, 50) == 90.0
    assert metrics.percentile(xs, 0) == 60.0
    assert metrics.percentile(xs, 100) == 100.0
    # virtual index (n-1)·p = 2·0.95 = 1.9: 90 + 0.9·(100-90) = 99
    assert metrics.percentile(xs, 95) == pytest.approx(99.0, abs=1e-12)
    assert metrics.percentile(xs, 99) == pytest.approx(99.8, abs=1e-12)
    assert metrics.percentile(xs, 25) == pytest.approx(75.0, abs=1e-12)  # 1.0·0.5 between 60 and 90
    assert metrics.percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5  # even count: midpoint
    assert metrics.percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError):
        metrics.percentile([], 50)
    with pytest.raises(ValueError):
        metrics.percentile([1.0], 101)


def test_summarize_mean_std_and_empty() -> None:
    s = metrics.summarize([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0])
    assert s["n"] == 8 and s["mean"] == 5.0 and s["std"] == 2.0  # population std
    assert s["min"] == 2.0 and s["max"] == 9.0 and s["median"] == s["p50"] == 4.5
    empty = metrics.summarize([])
    assert empty["n"] == 0 and empty["mean"] is None and empty["p99"] is None


def test_ttft_by_hand() -> None:
    ttft = level_metrics()["ttft_ms"]
    assert ttft["n"] == 3
    assert ttft["mean"] == pytest.approx(250 / 3)
    assert ttft["p50"] == pytest.approx(90.0)
    assert ttft["p95"] == pytest.approx(99.0)
    assert ttft["p99"] == pytest.approx(99.8)


def test_tpot_by_hand_leaves_out_one_token_requests() -> None:
    tpot = level_metrics()["tpot_ms"]
    assert tpot["n"] == 2  # r2 has one token, r3 failed
    assert tpot["mean"] == pytest.approx(32.5)
    assert tpot["p50"] == pytest.approx(32.5)
    assert tpot["p95"] == pytest.approx(40 - 15 * 0.05)
    assert tpot["p99"] == pytest.approx(40 - 15 * 0.01)


def test_itl_pools_every_gap() -> None:
    itl = level_metrics()["itl_ms"]
    assert itl["n"] == 3  # 20, 30 from r0 and 40 from r1
    assert itl["mean"] == pytest.approx(30.0)
    assert itl["p50"] == pytest.approx(30.0)
    assert itl["p95"] == pytest.approx(39.0)
    assert itl["p99"] == pytest.approx(39.8)


def test_e2e_by_hand() -> None:
    e2e = level_metrics()["e2e_ms"]
    assert e2e["n"] == 3
    assert e2e["mean"] == pytest.approx(340 / 3)
    assert e2e["p50"] == pytest.approx(130.0)
    assert e2e["p95"] == pytest.approx(148.0)
    assert e2e["p99"] == pytest.approx(149.6)


def test_throughput_and_failures() -> None:
    m = level_metrics()
    assert m["duration_s"] == pytest.approx(0.26)
    assert m["completed"] == 3 and m["failed"] == 1
    assert m["errors"] == {"OutOfMemoryError: out of memory": 1}
    assert m["total_output_tokens"] == 6  # the failed request's tokens do not count
    assert m["total_input_tokens"] == 30
    assert m["requests_per_s"] == pytest.approx(3 / 0.26)
    assert m["output_tokens_per_s"] == pytest.approx(6 / 0.26)
    assert m["total_tokens_per_s"] == pytest.approx(36 / 0.26)


def test_goodput_without_slo_is_none() -> None:
    m = level_metrics()
    assert m["goodput_rps"] is None and m["good_requests"] is None and m["slo"] == {}


@pytest.mark.parametrize(
    ("slo", "good"),
    [
        ({"ttft_ms": 95}, 2),  # r0 (100 ms) misses
        ({"tpot_ms": 30}, 2),  # r1 (40 ms) misses; r2 has no TPOT and meets it
        ({"ttft_ms": 95, "tpot_ms": 30}, 1),  # every SLO must hold: only r2
        ({"e2e_ms": 150}, 3),  # equal to the limit meets it
        ({"e2e_ms": 149.9}, 2),
        ({"ttft_ms": 1}, 0),
    ],
)
def test_goodput_with_slos(slo: dict, good: int) -> None:
    m = level_metrics(slo)
    assert m["good_requests"] == good
    assert m["goodput_rps"] == pytest.approx(good / 0.26)


def test_one_token_request_alone() -> None:
    level = {"concurrency": 1, "requests": [_req(0, 0, [40])]}
    m = metrics.compute_level(*metrics.requests_from_harness_level(level), {"tpot_ms": 1})
    assert m["ttft_ms"]["mean"] == pytest.approx(40.0) and m["e2e_ms"]["mean"] == pytest.approx(40.0)
    assert m["tpot_ms"]["n"] == 0 and m["tpot_ms"]["mean"] is None
    assert m["itl_ms"]["n"] == 0
    assert m["good_requests"] == 1


def test_all_failed_level() -> None:
    level = {"concurrency": 1, "requests": [_req(0, 0, [], error="boom", out=3), _req(1, 5, [], error="boom", out=3)]}
    m = metrics.compute_level(*metrics.requests_from_harness_level(level))
    assert m["completed"] == 0 and m["failed"] == 2 and m["errors"] == {"boom": 2}
    assert m["ttft_ms"]["n"] == 0 and m["requests_per_s"] == 0.0


def test_check_harness_level_finds_incoherent_timings() -> None:
    assert metrics.check_harness_level(LEVEL) == []
    bad = {"requests": [_req(0, 0, [100, 100, 150]), _req(1, 95, [90, 130]), _req(2, 0, [10, 20], out=3)]}
    bad["requests"][0]["end_ns"] = 1
    problems = metrics.check_harness_level(bad)
    assert any("request 0: token times not strictly increasing" in p for p in problems)
    assert any("request 0: end is not the last token" in p for p in problems)
    assert any("request 1: first token before the start" in p for p in problems)
    assert any("request 2: 2 token times for 3 output tokens" in p for p in problems)


def test_arrays_give_the_same_metrics_as_harness_records() -> None:
    # The same level written as vLLM-style arrays (seconds) recomputes to the same numbers.
    raw = {
        "start_times": [0.0, 0.0, 0.2, 0.2],
        "ttfts": [0.1, 0.09, 0.06, 0.0],
        "itls": [[0.02, 0.03], [0.04], [], []],
        "latencies": [0.15, 0.13, 0.06, 0.0],
        "output_lens": [3, 2, 1, 0],
        "input_lens": [10, 10, 10, 10],
        "errors": ["", "", "", "OutOfMemoryError: out of memory"],
    }
    records, duration, source = metrics.requests_from_arrays(raw)
    assert source.startswith("derived") and duration == pytest.approx(0.26)
    a = metrics.compute_level(records, duration, {"ttft_ms": 95})
    b = level_metrics({"ttft_ms": 95})
    for key in ("ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"):
        for stat in ("mean", "p50", "p95", "p99"):
            assert a[key][stat] == pytest.approx(b[key][stat], rel=1e-9)
    assert (a["completed"], a["failed"], a["good_requests"]) == (3, 1, 2)
    raw["duration"] = 0.5
    assert metrics.requests_from_arrays(raw)[1:] == (0.5, "uploaded raw.duration")


def test_vllm_names_and_compare_claims() -> None:
    flat = metrics.to_vllm_names(level_metrics({"ttft_ms": 95}))
    assert flat["mean_ttft_ms"] == pytest.approx(250 / 3)
    assert flat["median_e2el_ms"] == pytest.approx(130.0)
    assert flat["request_goodput"] == pytest.approx(2 / 0.26)
    claimed = {
        "mean_ttft_ms": 83.33,  # rounded to 2 decimals: within tolerance
        "p99_ttft_ms": 99.8 * 1.03,  # 3 % high: flagged at 2 %
        "completed": 4,  # counts must match exactly
        "output_throughput": 6 / 0.26,
    }
    flagged = metrics.compare_claims(flat, claimed, rel_tol=0.02)
    assert {row["metric"] for row in flagged} == {"p99_ttft_ms", "completed"}
    assert all(row["status"] == "mismatch" for row in flagged)
    assert metrics.compare_claims(flat, claimed, rel_tol=0.05) == [r for r in flagged if r["metric"] == "completed"]
    rows = metrics.comparison_rows({"request_goodput": None}, {"request_goodput": 3.0})
    assert rows[0]["status"] == "unverifiable"


def test_definitions_cover_every_metric() -> None:
    names = " ".join(d["metric"] for d in metrics.DEFINITIONS)
    for word in ("TTFT", "TPOT", "ITL", "E2E", "Percentiles", "Throughput", "Goodput", "Failures", "Peak memory"):
        assert word in names
    for d in metrics.DEFINITIONS:
        assert set(d) == {"metric", "definition", "vs_vllm"} and d["definition"] and d["vs_vllm"]


def test_fsum_makes_means_independent_of_order() -> None:
    # The builtin sum of floats changed algorithm in Python 3.12; fsum is exactly rounded, so a
    # recomputation on another Python version or order gives the same bits.
    xs = [0.1] * 10 + [1e16, -1e16]
    assert metrics.summarize(xs)["mean"] == metrics.summarize(list(reversed(xs)))["mean"] == math.fsum(xs) / 12
