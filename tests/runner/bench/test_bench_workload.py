"""Workload spec validation: defaults, each invalid or missing field named, limits across fields."""

from __future__ import annotations

import json
from typing import Any

import pytest

from portfolio.runner.bench import results, workload
from tests.runner.bench.helpers import BASE, paths, valid


def test_example_spec_normalises_with_defaults() -> None:
    norm = valid(workload.EXAMPLE_SPEC)
    assert norm["config"]["model_type"] == "llama" and norm["config"]["head_dim"] == 32
    assert norm["prompt_tokens"] == {"kind": "uniform", "min": 16, "max": 64}
    assert norm["output_tokens"] == {"kind": "fixed", "value": 32}
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
        ({"arrival": {"kind": "poisson", "rate": 2}}, "arrival.kind"),
        ({"batching": "continuous"}, "batching"),
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
