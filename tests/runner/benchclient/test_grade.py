"""The comparison on a hand-made server record (no server, no sandbox): what passes, and which
figure each kind of wrong report is caught by."""

from __future__ import annotations

import copy

import pytest

from portfolio.runner.bench import metrics
from portfolio.runner.benchclient import cases, grade

CASE = next(c for c in cases.all_cases() if c["name"] == "single_request")
WORKLOAD = cases.workload(CASE)
RTT = [0.0002] * 15
LAG = 0.001  # each moment reaches the client 1 ms after the server's


def record() -> dict:
    """Warm-up then the measured requests one after another: 20 ms to the first token, 6 ms a token."""
    requests, t = [], 1_000_000_000
    for seq, item in enumerate(WORKLOAD["warmup"] + WORKLOAD["requests"]):
        chunks = [t + 20_000_000 + i * 6_000_000 for i in range(item["output_tokens"])]
        requests.append(
            {
                "id": f"cmpl-{seq:05d}",
                "seq": seq,
                "arrival_ns": t,
                "prompt_tokens": item["prompt_tokens"],
                "max_tokens": item["output_tokens"],
                "stream": True,
                "token_ns": chunks,
                "chunk_ns": chunks,
                "end_ns": chunks[-1],
                "chunks": len(chunks),
                "status": "ok",
            }
        )
        t = chunks[-1] + 2_000_000
    return {"requests": requests, "refused": [], "steps": 0, "settings": {}}


def honest(rec: dict) -> dict:
    """What a correct client reports for `rec`, computed with the harness's own metric code."""
    rows, truth = [], []
    for index, entry in enumerate(rec["requests"][len(WORKLOAD["warmup"]) :]):
        sent = entry["arrival_ns"] / 1e9 - LAG
        chunks = [c / 1e9 + LAG for c in entry["chunk_ns"]]
        rows.append(
            {
                "index": index,
                "id": entry["id"],
                "scheduled_s": None,
                "sent_s": sent,
                "first_token_s": chunks[0],
                "chunk_times_s": chunks,
                "end_s": chunks[-1],
                "output_tokens": len(chunks),
                "error": None,
            }
        )
        truth.append(
            {
                "start_s": sent,
                "ttft_s": chunks[0] - sent,
                "latency_s": chunks[-1] - sent,
                "itl_s": [b - a for a, b in zip(chunks, chunks[1:], strict=False)],
                "prompt_tokens": 1,
                "output_tokens": len(chunks),
                "error": None,
            }
        )
    duration = max(r["start_s"] + r["latency_s"] for r in truth) - min(r["start_s"] for r in truth)
    level = metrics.compute_level(truth, duration, None)
    summary = {
        name: {
            "mean": level[name]["mean"],
            "p50": level[name]["median"],
            "p95": level[name]["p95"],
            "p99": level[name]["p99"],
        }
        for name in grade.LATENCIES
    }
    summary.update(
        completed=level["completed"],
        failed=0,
        output_tokens_per_s=level["output_tokens_per_s"],
        requests_per_s=level["requests_per_s"],
        goodput_rps=None,
    )
    return {"requests": rows, "summary": summary}


def problems(result, rec=None):
    found, _ = grade.check_case(WORKLOAD, rec or record(), RTT, result)
    return found.items


def test_an_honest_report_passes():
    assert problems(honest(record())) == []


def test_a_first_token_stamped_before_the_server_sent_it_is_caught_exactly():
    result = honest(record())
    result["requests"][2]["first_token_s"] -= 0.005
    [(category, message)] = [p for p in problems(result) if p[0] == "ttft"]
    assert "request 2: your first_token_s is 4.0 ms before the server sent it" in message


def test_a_token_received_far_later_than_the_band_is_caught():
    result = honest(record())
    result["requests"][0]["end_s"] += 0.05
    assert "e2e" in {c for c, _ in problems(result)}


def test_a_mean_reported_as_p99_is_caught_against_the_clients_own_records():
    rec = record()
    late = rec["requests"][-1]
    late["chunk_ns"] = late["token_ns"] = [c + 200_000_000 for c in late["chunk_ns"]]
    late["end_ns"] = late["chunk_ns"][-1]
    result = honest(rec)
    result["summary"]["ttft_ms"]["p99"] = result["summary"]["ttft_ms"]["mean"]
    assert [c for c, _ in problems(result, rec)] == ["percentiles"]


def test_counts_must_match_exactly():
    result = honest(record())
    result["requests"][1]["output_tokens"] += 1
    assert ("tokens", "request 1: 17 output tokens, the server generated 16") in problems(result)


def test_a_sent_time_after_the_arrival_or_moved_early_in_several_requests_is_a_clock_problem():
    result = honest(record())
    result["requests"][3]["sent_s"] += 0.01
    assert [c for c, _ in problems(result)] == ["clock"]
    result = honest(record())
    for row in result["requests"][:2]:
        row["sent_s"] -= 0.5
    assert {c for c, _ in problems(result)} == {"clock"}


def test_a_warm_up_in_the_records_is_named():
    rec = record()
    result = honest(rec)
    warm = copy.deepcopy(result["requests"][0])
    warm.update(id=rec["requests"][0]["id"], index=len(result["requests"]))
    result["requests"].append(warm)
    assert "warmup" in {c for c, _ in problems(result, rec)}


def test_the_server_receiving_more_requests_than_the_workload_fails_before_anything_else():
    rec = record()
    rec["requests"].append(dict(rec["requests"][-1], id="cmpl-99999"))
    assert problems(honest(record()), rec)[0][1].startswith("the server received 8 requests")


def test_the_band_grows_with_the_measured_loopback():
    assert grade.allowance_s([0.0001] * 10) == grade.ALLOWANCE_FLOOR_S


def test_the_band_widens_when_the_server_s_own_timer_wakes_late():
    assert grade.allowance_s([0.0001] * 10, [0.5] * 100) == grade.ALLOWANCE_FLOOR_S
    assert grade.allowance_s([0.0001] * 10, [0.5] * 98 + [40.0, 40.0]) == pytest.approx(0.120)
    assert grade.allowance_s([0.02] * 10) == pytest.approx(0.08)
