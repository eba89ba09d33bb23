"""Request planning: the exact requests of every level of a normalised workload, drawn from its seed.

Standard library only. The harness runs what `plan_requests` returns and the tests compare what
was run with it; anything a workload draws per request (lengths today) is drawn here, from
streams seeded by the spec, so a stored spec replays the same requests. So are the arrival
times of an open-loop level (`arrival_offsets_s`).
"""

from __future__ import annotations

import math
import random
from typing import Any

from . import lengths


def plan_requests(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The exact (prompt_tokens, output_tokens) of every request, per level, from the seed.

    Every level runs the same measured requests in the same order, so levels differ only in
    concurrency. Warm-up requests come from a separate stream and are rounded up to whole
    batches so each level's batch shape is warmed. Python's Mersenne Twister with an integer
    seed gives the same draws on every Python 3 version.
    """
    rng = random.Random(spec["seed"])
    measured = [
        (
            lengths.draw(spec["prompt_tokens"], rng),
            lengths.draw(spec["output_tokens"], rng),
        )
        for _ in range(spec["requests"])
    ]
    levels = []
    for i, c in enumerate(spec["concurrency"]):
        warm_rng = random.Random(spec["seed"] + 7919 * (i + 1))
        n_warm = math.ceil(spec["warmup_requests"] / c) * c if spec["warmup_requests"] else 0
        warmup = [
            (
                lengths.draw(spec["prompt_tokens"], warm_rng),
                lengths.draw(spec["output_tokens"], warm_rng),
            )
            for _ in range(n_warm)
        ]
        level: dict[str, Any] = {"concurrency": c, "warmup": warmup, "requests": list(measured)}
        ramp = spec["arrival"].get("ramp_up_requests") or 0
        if ramp:
            ramp_rng = random.Random(spec["seed"] + 104729 * (i + 1))
            level["ramp_up"] = [
                (lengths.draw(spec["prompt_tokens"], ramp_rng), lengths.draw(spec["output_tokens"], ramp_rng))
                for _ in range(ramp)
            ]
        levels.append(level)
    return levels


def unit_gaps(arrival: dict[str, Any], n: int) -> list[float]:
    """n - 1 gaps between arrivals at a rate of 1 request/s, from the arrival's own seed.

    constant: all 1. poisson: exponential with mean 1. gamma: shape = burstiness and scale =
    1 / burstiness (vLLM's definition at rate 1: mean 1, variance 1 / burstiness; burstiness 1 is
    the exponential). A level at rate r divides these by r, so every rate of a sweep sees the
    same pattern stretched (common random numbers: the rates differ in rate only). Unlike vLLM we
    do not rescale the drawn times so that the last arrival lands at exactly n / rate: that
    rescaling changes the distribution the gaps claim to follow.
    """
    kind = arrival["kind"]
    if kind == "constant":
        return [1.0] * (n - 1)
    rng = random.Random(arrival["seed"])
    if kind == "poisson":
        return [rng.expovariate(1.0) for _ in range(n - 1)]
    if kind == "gamma":
        shape = arrival["burstiness"]
        return [rng.gammavariate(shape, 1.0 / shape) for _ in range(n - 1)]
    raise ValueError(f"{kind} is not an open-loop arrival")


def arrival_offsets_s(arrival: dict[str, Any], n: int, rate: float) -> list[float]:
    """Scheduled arrival of each of n requests, in seconds after the level's first one (at 0).

    rate may be math.inf: every request arrives at once (a saturation run).
    """
    if n <= 0:
        return []
    if math.isinf(rate):
        return [0.0] * n
    offsets = [0.0]
    for gap in unit_gaps(arrival, n):
        offsets.append(offsets[-1] + gap / rate)
    return offsets
