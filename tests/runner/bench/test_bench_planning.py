"""The request plan: seeded, bounded, shared by the levels."""

from __future__ import annotations

import copy

from portfolio.runner.bench import planning
from tests.runner.bench.helpers import BASE, valid


def test_plan_is_seeded_bounded_and_shared_by_levels() -> None:
    norm = valid(
        {
            **BASE,
            "prompt_tokens": {"kind": "uniform", "min": 5, "max": 9},
            "output_tokens": {"kind": "uniform", "min": 1, "max": 3},
            "concurrency": [1, 4],
            "requests": 6,
            "warmup_requests": 5,
            "seed": 3,
        }
    )
    plan = planning.plan_requests(norm)
    assert plan == planning.plan_requests(copy.deepcopy(norm))
    assert plan[0]["requests"] == plan[1]["requests"] and len(plan[0]["requests"]) == 6
    assert all(5 <= p <= 9 and 1 <= o <= 3 for p, o in plan[0]["requests"])
    assert len(plan[0]["warmup"]) == 5 and len(plan[1]["warmup"]) == 8  # rounded up to whole batches of 4
    other = planning.plan_requests({**norm, "seed": 4})
    assert other[0]["requests"] != plan[0]["requests"]
    assert planning.plan_requests({**norm, "warmup_requests": 0})[1]["warmup"] == []
