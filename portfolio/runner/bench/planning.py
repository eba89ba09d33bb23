"""Request planning: the exact requests of every level of a normalised workload, drawn from its seed.

Standard library only. The harness runs what `plan_requests` returns and the tests compare what
was run with it; anything a workload draws per request (lengths today) is drawn here, from
streams seeded by the spec, so a stored spec replays the same requests.
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
        levels.append({"concurrency": c, "warmup": warmup, "requests": list(measured)})
    return levels
