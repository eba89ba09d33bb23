"""Load and statistics, standard library only: arrival processes, intervals, the SLA rule, validity checks."""

from __future__ import annotations

import copy
import math
import random
from typing import Any

import pytest

from portfolio.runner.bench import metrics, planning, stats, uploads, validity

N = 4000
# Kolmogorov-Smirnov critical value at the 1 % level for n samples, 1.63 / sqrt(n).
KS_1PC = 1.63 / math.sqrt(N - 1)


def ks_distance(sample: list[float], cdf: Any) -> float:
    xs = sorted(sample)
    n = len(xs)
    return max(max((i + 1) / n - cdf(x), cdf(x) - i / n) for i, x in enumerate(xs))


def gaps(arrival: dict[str, Any], rate: float) -> list[float]:
    offsets = planning.arrival_offsets_s(arrival, N, rate)
    return [b - a for a, b in zip(offsets, offsets[1:], strict=False)]


def test_poisson_arrivals_have_exponential_gaps() -> None:
    rate = 4.0
    sample = gaps({"kind": "poisson", "seed": 3}, rate)
    assert ks_distance(sample, lambda x: 1 - math.exp(-rate * x)) < KS_1PC
    # ...and a wrong rate is rejected by the same test, so the test can fail.
    assert ks_distance(sample, lambda x: 1 - math.exp(-1.5 * rate * x)) > KS_1PC


def test_gamma_arrivals_follow_vllms_burstiness() -> None:
    # Shape 0.5 (burstier than Poisson), scale 1 / (rate x 0.5): its CDF is erf(sqrt(x / scale)).
    rate, burstiness = 2.0, 0.5
    sample = gaps({"kind": "gamma", "burstiness": burstiness, "seed": 11}, rate)
    scale = 1 / (rate * burstiness)
    assert ks_distance(sample, lambda x: math.erf(math.sqrt(x / scale))) < KS_1PC
    mean = math.fsum(sample) / len(sample)
    variance = math.fsum((x - mean) ** 2 for x in sample) / len(sample)
    assert mean == pytest.approx(1 / rate, rel=0.06)
    assert variance == pytest.approx(1 / (rate**2 * burstiness), rel=0.15)  # twice Poisson's
    assert ks_distance(sample, lambda x: 1 - math.exp(-rate * x)) > KS_1PC  # not Poisson


def test_constant_arrivals_are_evenly_spaced_and_rates_share_one_pattern() -> None:
    assert planning.arrival_offsets_s({"kind": "constant", "seed": 0}, 4, 2.0) == [0.0, 0.5, 1.0, 1.5]
    slow = planning.arrival_offsets_s({"kind": "poisson", "seed": 5}, 50, 1.0)
    fast = planning.arrival_offsets_s({"kind": "poisson", "seed": 5}, 50, 4.0)
    assert fast == pytest.approx([t / 4 for t in slow])
    assert planning.arrival_offsets_s({"kind": "poisson", "seed": 5}, 3, math.inf) == [0.0, 0.0, 0.0]


def test_ramp_up_requests_are_planned_apart_from_the_measured_ones() -> None:
    from tests.runner.bench.helpers import valid

    spec = valid(
        {
            "architecture": "tiny-llama",
            "dtype": "float32",
            "prompt_tokens": {"kind": "uniform", "min": 4, "max": 30},
            "output_tokens": 4,
            "requests": 6,
            "arrival": {"kind": "poisson", "rate": 3, "ramp_up_requests": 2},
        }
    )
    (level,) = planning.plan_requests(spec)
    assert len(level["ramp_up"]) == 2 and len(level["requests"]) == 6


def test_percentiles_carry_their_count_interval_and_fall_back_to_the_max() -> None:
    rng = random.Random(1)
    values = [rng.expovariate(1.0) for _ in range(150)]
    shown = stats.reported(values)
    p99 = shown["p99"]
    assert p99["n"] == 150 and p99["min_n"] == 100 and not p99["is_max"]
    assert p99["value"] == metrics.percentile(values, 99)
    assert p99["ci"][0] <= p99["value"] <= p99["ci"][1]
    assert stats.reported(values) == shown  # a fixed seed: the page recomputes the same interval
    few = stats.reported(values[:40])
    assert few["p99"]["is_max"] and few["p99"]["value"] == max(values[:40]) and few["p99"]["ci"] is None
    assert not few["p95"]["is_max"]  # p95 needs 20


def test_the_bootstrap_shortcut_matches_resampling() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(0, 0.6) for _ in range(200)]
    fast = stats.bootstrap_percentiles(values, (50, 99))
    brute = random.Random(9)
    for p in (50, 99):
        draws = [metrics.percentile([values[int(brute.random() * 200)] for _ in range(200)], p) for _ in range(3000)]
        lo, hi = metrics.percentile(draws, 2.5), metrics.percentile(draws, 97.5)
        width = hi - lo
        assert abs(fast[p][0] - lo) < 0.15 * width and abs(fast[p][1] - hi) < 0.15 * width


@pytest.mark.parametrize("p", [50, 90, 95, 99])
def test_early_stopping_stops_exactly_when_the_percentile_can_no_longer_meet_the_limit(p: int) -> None:
    limit = 1.0
    for n in (1, 5, 19, 20, 99, 100, 137, 250):
        need = stats.breaking_count(n, p)
        shown = lambda vs: stats.reported(vs, interval=False)[f"p{p}"]["value"]  # noqa: E731
        # need values just over the limit break it, however low the others are...
        assert shown([0.0] * (n - need) + [limit + 1e-9] * need) > limit, (n, need)
        # ...and one fewer can still meet it.
        if need > 1:
            assert shown([0.0] * (n - need + 1) + [limit + 1e-9] * (need - 1)) <= limit, (n, need)
        sla = {"ttft_ms": limit, "percentile": p}
        assert stats.sla_already_broken([{"ttft_ms": limit + 1}] * need, n, sla)
        assert stats.sla_already_broken([{"ttft_ms": limit + 1}] * (need - 1), n, sla) is None


def test_the_search_brackets_between_the_highest_pass_and_the_lowest_failure() -> None:
    points = [(1.0, True), (2.0, True), (4.0, False), (8.0, False)]
    assert stats.next_search_rate(points) == 3.0
    assert stats.highest_meeting(points) == 2.0
    assert stats.highest_meeting([(1.0, True), (2.0, False), (3.0, True)]) == 1.0  # a lucky pass above a failure
    assert stats.next_search_rate([(1.0, True), (2.0, True)]) is None
    assert stats.highest_meeting([(1.0, False)]) is None


def test_trial_spread() -> None:
    rows = {r["label"]: r for r in stats.trial_spread([{"output_tokens_per_s": 90.0}, {"output_tokens_per_s": 110.0}])}
    assert rows["Output tok/s"]["mean"] == 100.0 and rows["Output tok/s"]["spread"] == pytest.approx(0.2)


# --- validity checks -----------------------------------------------------------------------------


def engine_level() -> dict[str, Any]:
    """A coherent continuous-batching level: request 0 alone, request 1 joins while 0 decodes."""
    return {
        "concurrency": 2,
        "rate": 5.0,
        "role": "level",
        "wall_ns": 100,
        "stopped_early": None,
        "steps": [
            {"kind": "prefill", "start_ns": 0, "end_ns": 10, "rows": 1, "width": 4, "admitted": [0]},
            {"kind": "decode", "start_ns": 10, "end_ns": 20, "rows": 1, "width": 5, "admitted": []},
            {"kind": "prefill", "start_ns": 20, "end_ns": 30, "rows": 1, "width": 6, "admitted": [1]},
            {"kind": "decode", "start_ns": 30, "end_ns": 40, "rows": 2, "width": 7, "admitted": []},
        ],
        "requests": [
            {"id": 0, "prompt_tokens": 4, "output_tokens": 3, "start_ns": 0, "admitted_ns": 0,
             "token_ns": [10, 20, 40], "end_ns": 40, "error": None},
            {"id": 1, "prompt_tokens": 2, "output_tokens": 2, "start_ns": 15, "admitted_ns": 20,
             "token_ns": [30, 40], "end_ns": 40, "error": None},
        ],
    }  # fmt: skip


def broken(change: Any) -> list[str]:
    level = copy.deepcopy(engine_level())
    change(level)
    return validity.check_level(level)


@pytest.mark.parametrize(
    ("change", "check"),
    [
        (lambda lv: lv["requests"][0].update(token_ns=[10, 20], end_ns=20), validity.EXACT_TOKENS),
        (lambda lv: lv["requests"][1].update(token_ns=[40, 41], end_ns=41), validity.FIRST_TOKEN),
        (lambda lv: lv["requests"][1].update(token_ns=[], end_ns=None), validity.NONE_DROPPED),
        (lambda lv: lv["requests"][1].update(not_run=True), validity.NONE_DROPPED),
        (lambda lv: lv["steps"][-1].update(end_ns=10_000_000), validity.CLOCKS_AGREE),  # > wall + 2 ms
        (lambda lv: lv["steps"][1].update(start_ns=5), validity.CLOCKS_AGREE),
        (lambda lv: lv["requests"][1].update(start_ns=25), validity.ORDERED),
    ],
)
def test_each_validity_check_fails_the_level_that_breaks_it(change: Any, check: str) -> None:
    assert validity.check_level(engine_level()) == []
    problems = broken(change)
    assert problems and all(p.startswith(check) for p in problems), problems


def test_a_request_an_early_stop_never_ran_is_not_a_dropped_one() -> None:
    def stop(level: dict[str, Any]) -> None:
        level["stopped_early"] = "3 of 20 requests already over the TTFT limit"
        level["requests"][1].update(not_run=True, token_ns=[], end_ns=None)
        level["steps"] = level["steps"][:2]

    assert broken(stop) == []


def test_metrics_count_from_the_scheduled_arrival_and_leave_ramp_up_out() -> None:
    level = engine_level()
    level["requests"].append(
        {"id": 2, "prompt_tokens": 2, "output_tokens": 1, "start_ns": 0, "admitted_ns": 0, "token_ns": [10],
         "end_ns": 10, "error": None, "ramp_up": True}
    )  # fmt: skip
    records, duration = metrics.requests_from_harness_level(level)
    assert [r["ttft_s"] for r in records] == [10e-9, 15e-9]  # request 1 arrived at 15, waited until 20
    assert duration == 40e-9


# --- uploads with arrival times ------------------------------------------------------------------


def upload(**raw: Any) -> dict[str, Any]:
    return {
        "workload": {
            "model": "m", "dtype": "bf16", "hardware": "1x H100", "engine": "vllm", "engine_version": "0.9",
            "prompt_tokens": 8, "output_tokens": 3, "concurrency": 2, "num_requests": 3,
        },
        "claimed": {"mean_ttft_ms": 100.0},
        "raw": {
            "start_times": [0.0, 0.5, 1.0], "ttfts": [0.1, 0.1, 0.1], "itls": [[0.05, 0.05]] * 3,
            "latencies": [0.2, 0.2, 0.2], "output_lens": [3, 3, 3], **raw,
        },
    }  # fmt: skip


def test_uploaded_arrival_times_are_recomputed_with_queueing_and_intervals() -> None:
    out = uploads.recompute_upload(upload(arrival_times=[0.0, 0.3, 1.0]))
    assert out["valid"] and out["comparisons"][0]["status"] == "ok"  # claims: from send, as vLLM
    queued = out["recomputed_from_arrival"]
    assert queued["ttft_ms"]["max"] == pytest.approx(300.0)  # 0.2 s queued + 0.1 s
    assert queued["ttft_ms"]["reported"]["p50"]["n"] == 3
    assert uploads.recompute_upload(upload())["recomputed_from_arrival"] is None


def test_an_arrival_after_the_send_time_is_refused_by_name() -> None:
    out = uploads.recompute_upload(upload(arrival_times=[0.0, 0.9, 1.0]))
    assert not out["valid"] and out["errors"][0]["path"] == "raw.arrival_times[1]"
