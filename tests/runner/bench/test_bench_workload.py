"""Workload spec validation: defaults, each invalid or missing field named, limits across fields."""

from __future__ import annotations

import json
from typing import Any

import pytest

from portfolio.runner.bench import results, stats, workload
from tests.runner.bench.helpers import BASE, paths, valid


def test_example_spec_normalises_with_defaults() -> None:
    norm = valid(workload.EXAMPLE_SPEC)
    assert norm["config"]["model_type"] == "llama" and norm["config"]["head_dim"] == 32
    assert norm["prompt_tokens"] == {"kind": "uniform", "min": 16, "max": 64}
    assert norm["output_tokens"] == {"kind": "fixed", "value": 16}
    # Sized so that its run page's p99 is a real percentile, not "max of n".
    assert norm["requests"] >= stats.min_samples(99)
    assert norm["arrival"] == {"kind": "closed"} and norm["batching"] == "static"
    assert norm["attn_implementation"] == "sdpa"
    minimal = valid(
        {
            "architecture": "tiny-gpt2",
            "dtype": "bfloat16",
            "prompt_tokens": 8,
            "output_tokens": 4,
            "concurrency": [2],
            "requests": 3,
        }
    )
    assert (minimal["warmup_requests"], minimal["seed"], minimal["slo"]) == (1, 0, {})
    assert minimal["config"]["eos_token_id"] == 8191  # kept inside the small vocabulary
    json.dumps(workload.SPEC_SCHEMA)
    json.dumps(results.RESULTS_SCHEMA)


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"architecture": "gpt-5"}, "architecture"),
        ({"config": {"model_type": "llama"}}, "architecture"),  # both given
        ({"dtype": "int8"}, "dtype"),
        ({"attn_implementation": "flash_attention_9"}, "attn_implementation"),
        ({"prompt_tokens": 0}, "prompt_tokens"),
        ({"prompt_tokens": True}, "prompt_tokens"),
        ({"prompt_tokens": {"kind": "uniform", "min": 10, "max": 5}}, "prompt_tokens.max"),
        ({"prompt_tokens": {"kind": "uniform", "min": 10}}, "prompt_tokens.max"),
        ({"output_tokens": {"kind": "normal", "mean": 5}}, "output_tokens.kind"),
        ({"output_tokens": {"kind": "fixed", "value": 2.5}}, "output_tokens.value"),
        ({"concurrency": 4}, "concurrency"),
        ({"concurrency": []}, "concurrency"),
        ({"concurrency": [1, "2"]}, "concurrency[1]"),
        ({"concurrency": [2, 2]}, "concurrency[1]"),
        ({"concurrency": [1, 100000]}, "concurrency[1]"),
        ({"requests": 0}, "requests"),
        ({"warmup_requests": -1}, "warmup_requests"),
        ({"seed": "x"}, "seed"),
        ({"slo": {"ttft_ms": -5}}, "slo.ttft_ms"),
        ({"slo": {"p99_ms": 3}}, "slo.p99_ms"),
        ({"slo": 5}, "slo"),
        ({"arrival": {"kind": "uniform", "rate": 2}}, "arrival.kind"),
        ({"arrival": {"kind": "poisson", "rate": 2}}, "concurrency"),  # levels are rates in an open loop
        ({"arrival": {"kind": "closed", "rate": 2}}, "arrival.rate"),
        ({"batching": "dynamic"}, "batching"),
        ({"trials": 0}, "trials"),
        ({"sweep": {"points": 3}}, "sweep"),  # closed loop has no rate to sweep
        ({"engine": {"compile": True}}, "engine.compile"),  # needs the static cache
        ({"engine": {"cache": "static"}, "batching": "continuous"}, "engine.cache"),
        ({"engine": {"graphs": True}}, "engine.graphs"),
        ({"spec_version": "9"}, "spec_version"),
        ({"temperature": 0.7}, "temperature"),
        ({"requests": 4096, "output_tokens": 1000, "concurrency": [1, 2, 4]}, "requests"),  # too many timed tokens
    ],
)
def test_each_invalid_field_is_named(change: dict[str, Any], path: str) -> None:
    doc = {**BASE, **change}
    assert path in paths(doc)


def test_missing_fields_are_named() -> None:
    got = paths({})
    for path in ("architecture", "dtype", "prompt_tokens", "output_tokens", "concurrency", "requests"):
        assert path in got


def test_several_errors_are_reported_together() -> None:
    got = paths({**BASE, "dtype": "fp64", "requests": -1, "slo": {"tpot_ms": 0}})
    assert {"dtype", "requests", "slo.tpot_ms"} <= set(got)


def test_context_limit() -> None:
    # tiny-gpt2 has 1024 positions.
    assert "output_tokens" in paths({**BASE, "architecture": "tiny-gpt2", "prompt_tokens": 1000, "output_tokens": 100})


OPEN = {k: v for k, v in BASE.items() if k != "concurrency"}


@pytest.mark.parametrize(
    ("arrival", "extra", "path"),
    [
        ({"kind": "poisson"}, {}, "arrival.rate"),
        ({"kind": "poisson", "rate": 0}, {}, "arrival.rate"),
        ({"kind": "constant", "rate": "fast"}, {}, "arrival.rate"),
        ({"kind": "gamma", "rate": 2}, {}, "arrival.burstiness"),
        ({"kind": "gamma", "rate": 2, "burstiness": -1}, {}, "arrival.burstiness"),
        ({"kind": "poisson", "rate": 2, "burstiness": 0.5}, {}, "arrival.burstiness"),
        ({"kind": "poisson", "rate": 2, "max_concurrency": 0}, {}, "arrival.max_concurrency"),
        ({"kind": "poisson", "rate": 2, "ramp_up_requests": -1}, {}, "arrival.ramp_up_requests"),
        ({"kind": "poisson", "rate": 2}, {"sweep": {"points": 3}}, "arrival.rate"),  # both
        ({"kind": "poisson"}, {"sweep": {"points": 1}}, "sweep.points"),
        ({"kind": "poisson"}, {"sweep": {"rates": [1, -2]}}, "sweep.rates[1]"),
        ({"kind": "poisson"}, {"sweep": {"rates": [1], "points": 2}}, "sweep"),
        ({"kind": "poisson", "rate": 2}, {"sla": {"ttft_ms": 100}}, "sla"),  # no sweep
        ({"kind": "poisson"}, {"sweep": {"points": 3}, "sla": {"percentile": 99}}, "sla.ttft_ms"),
        ({"kind": "poisson"}, {"sweep": {"points": 3}, "sla": {"ttft_ms": 100, "percentile": 98}}, "sla.percentile"),
    ],
)
def test_each_invalid_open_loop_field_is_named(arrival: dict[str, Any], extra: dict[str, Any], path: str) -> None:
    assert path in paths({**OPEN, "arrival": arrival, **extra})


def test_open_loop_spec_normalises_with_its_cap_as_the_level() -> None:
    norm = valid({**OPEN, "arrival": {"kind": "gamma", "rate": 3, "burstiness": 0.5, "max_concurrency": 2}})
    assert norm["concurrency"] == [2]
    assert norm["arrival"] == {
        "kind": "gamma",
        "rate": 3.0,
        "burstiness": 0.5,
        "max_concurrency": 2,
        "seed": 0,
        "ramp_up_requests": 0,
    }
    uncapped = valid({**OPEN, "arrival": {"kind": "poisson"}, "sweep": {"rates": [2, 1]}, "sla": {"tpot_ms": 50}})
    assert uncapped["concurrency"] == [OPEN["requests"]]  # every request may be in flight
    assert uncapped["sweep"] == {"rates": [1.0, 2.0]}
    assert uncapped["sla"] == {"tpot_ms": 50.0, "percentile": 99, "search_steps": 2}


def test_a_spec_without_the_new_fields_normalises_as_before() -> None:
    norm = valid(BASE)
    assert not {"sweep", "sla", "trials", "engine"} & set(norm)
    assert valid({**BASE, "trials": 3, "engine": {"cache": "static", "compile": True}})["engine"] == {
        "cache": "static",
        "compile": True,
    }
