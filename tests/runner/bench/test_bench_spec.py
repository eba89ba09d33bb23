"""Workload spec validation, the catalog, fits(), the request plan, and results-upload validation."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from portfolio.runner.bench import spec

GiB = 1024**3
H100 = {"kind": "cuda", "name": "NVIDIA H100 80GB HBM3", "memory_bytes": 80 * GiB}
GPU_24G = {"kind": "cuda", "name": "NVIDIA L4", "memory_bytes": 24 * GiB}
CPU = {"kind": "cpu", "name": "2-core CPU", "memory_bytes": 4 * GiB}


def valid(doc: dict[str, Any]) -> dict[str, Any]:
    norm, errors = spec.validate(doc)
    assert errors == [], errors
    assert norm is not None
    return norm


def paths(doc: Any) -> list[str]:
    norm, errors = spec.validate(doc)
    assert norm is None
    return [e["path"] for e in errors]


def test_example_spec_normalises_with_defaults() -> None:
    norm = valid(spec.EXAMPLE_SPEC)
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
    json.dumps(spec.SPEC_SCHEMA)
    json.dumps(spec.RESULTS_SCHEMA)


BASE = {
    "architecture": "tiny-llama",
    "dtype": "float32",
    "prompt_tokens": 16,
    "output_tokens": 8,
    "concurrency": [1, 2],
    "requests": 4,
}


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


INLINE = {
    "model_type": "qwen3",
    "hidden_size": 128,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 48,
    "vocab_size": 1000,
    "max_position_embeddings": 512,
}


def test_inline_config_is_normalised_explicitly() -> None:
    norm = valid(
        {
            **{k: v for k, v in BASE.items() if k != "architecture"},
            "config": {**INLINE, "torch_dtype": "bfloat16", "architectures": ["X"]},
        }
    )
    cfg = norm["config"]
    assert norm["architecture"] is None
    assert cfg["head_dim"] == 48 and cfg["tie_word_embeddings"] is False and cfg["attention_bias"] is False
    assert "torch_dtype" not in cfg and "architectures" not in cfg  # the spec's dtype wins


@pytest.mark.parametrize(
    ("config", "path"),
    [
        ({**INLINE, "model_type": "mixtral"}, "config.model_type"),
        ({k: v for k, v in INLINE.items() if k != "hidden_size"}, "config.hidden_size"),
        ({**INLINE, "num_key_value_heads": 3}, "config.num_key_value_heads"),
        ({**INLINE, "vocab_size": "big"}, "config.vocab_size"),
        ({**INLINE, "model_type": "mistral", "sliding_window": 4096}, "config.sliding_window"),
        ({**INLINE, "use_sliding_window": True}, "config.use_sliding_window"),
        ("llama", "config"),
    ],
)
def test_invalid_inline_config(config: Any, path: str) -> None:
    doc = {k: v for k, v in BASE.items() if k != "architecture"}
    assert path in paths({**doc, "config": config})


@pytest.mark.parametrize(
    ("name", "published"),
    [
        # Parameter counts of the published checkpoints; equal only if every shape field is right.
        ("llama-3.1-8b", 8_030_261_248),
        ("qwen2.5-7b", 7_615_616_512),
        ("mistral-7b-v0.3", 7_248_023_552),
        ("qwen2.5-0.5b", 494_032_768),
    ],
)
def test_gpu_catalog_matches_published_sizes(name: str, published: int) -> None:
    norm = valid({**BASE, "architecture": name})
    assert spec.param_count(norm["config"]) == published
    assert f"{published:,}" in spec.GPU_CATALOG[name]["description"]


def test_kv_bytes_per_token_formula() -> None:
    llama8b = valid({**BASE, "architecture": "llama-3.1-8b", "dtype": "bfloat16"})["config"]
    assert spec.kv_bytes_per_token(llama8b, "bfloat16") == 2 * 32 * 8 * 128 * 2 == 131072
    gpt2 = valid({**BASE, "architecture": "tiny-gpt2"})["config"]
    assert spec.kv_bytes_per_token(gpt2, "float32") == 2 * 4 * 256 * 4


def test_fits_refuses_oversize_with_the_reason() -> None:
    big = valid(
        {
            **BASE,
            "architecture": "llama-3.1-8b",
            "dtype": "bfloat16",
            "prompt_tokens": 8192,
            "output_tokens": 1024,
            "concurrency": [64],
            "requests": 64,
        }
    )
    ok, reason = spec.fits(big, GPU_24G)
    assert not ok
    # 8.03e9 params x 2 B = 14.96 GiB of weights; KV 64 x 9216 tokens x 128 KiB = 72 GiB.
    assert "weights 14.96 GiB" in reason and "KV cache 72.00 GiB" in reason and "NVIDIA L4" in reason
    ok, reason = spec.fits(big, H100)
    assert not ok and "KV cache 72.00 GiB" in reason
    small = valid(
        {
            **BASE,
            "architecture": "llama-3.1-8b",
            "dtype": "bfloat16",
            "prompt_tokens": 512,
            "output_tokens": 128,
            "concurrency": [1, 8],
            "requests": 16,
        }
    )
    ok, reason = spec.fits(small, H100)
    assert ok, reason
    ok, reason = spec.fits(small, GPU_24G)
    assert ok, reason


def test_fits_on_cpu() -> None:
    gpu_model = valid({**BASE, "architecture": "mistral-7b-v0.3"})
    ok, reason = spec.fits(gpu_model, CPU)
    assert not ok and "GPU catalog" in reason
    ok, reason = spec.fits(valid({**BASE, "dtype": "float16"}), CPU)
    assert not ok and "float16" in reason
    ok, reason = spec.fits(valid(BASE), CPU)
    assert ok, reason
    wide = {
        **INLINE,
        "model_type": "llama",
        "hidden_size": 2048,
        "intermediate_size": 8192,
        "num_hidden_layers": 16,
        "num_attention_heads": 16,
        "num_key_value_heads": 4,
        "head_dim": 128,
    }
    ok, reason = spec.fits(valid({**{k: v for k, v in BASE.items() if k != "architecture"}, "config": wide}), CPU)
    assert not ok and "M parameters" in reason
    long = valid(
        {
            **BASE,
            "architecture": "small-llama",
            "prompt_tokens": 2000,
            "output_tokens": 1000,
            "requests": 64,
            "concurrency": [1, 2, 4, 8],
        }
    )
    ok, reason = spec.fits(long, {**CPU, "memory_bytes": 64 * GiB})
    assert not ok and "budget of" in reason and " s;" in reason
    ok, reason = spec.fits(valid(BASE), {**CPU, "memory_bytes": 256 * 1024**2})
    assert not ok and "needs about" in reason


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
    plan = spec.plan_requests(norm)
    assert plan == spec.plan_requests(copy.deepcopy(norm))
    assert plan[0]["requests"] == plan[1]["requests"] and len(plan[0]["requests"]) == 6
    assert all(5 <= p <= 9 and 1 <= o <= 3 for p, o in plan[0]["requests"])
    assert len(plan[0]["warmup"]) == 5 and len(plan[1]["warmup"]) == 8  # rounded up to whole batches of 4
    other = spec.plan_requests({**norm, "seed": 4})
    assert other[0]["requests"] != plan[0]["requests"]
    assert spec.plan_requests({**norm, "warmup_requests": 0})[1]["warmup"] == []


# --------------------------------------------------------------------------------------------
# Results upload
# --------------------------------------------------------------------------------------------

UPLOAD = {
    "workload": {
        "model": "meta-llama/Llama-3.1-8B-Instruct",
        "dtype": "bfloat16",
        "hardware": "1x NVIDIA H100 80GB SXM",
        "engine": "vllm",
        "engine_version": "0.11.0",
        "prompt_tokens": 512,
        "output_tokens": 128,
        "concurrency": 8,
        "num_requests": 2,
    },
    "claimed": {"mean_ttft_ms": 40.0},
    "raw": {
        "start_times": [0.0, 0.01],
        "ttfts": [0.04, 0.04],
        "itls": [[0.01], [0.01]],
        "latencies": [0.05, 0.05],
        "output_lens": [2, 2],
    },
}


def test_valid_upload_normalises() -> None:
    doc, errors = spec.validate_results(UPLOAD)
    assert errors == [] and doc is not None
    assert doc["workload"]["prompt_tokens"] == {"kind": "fixed", "value": 512}
    assert doc["workload"]["slo"] == {}


def test_upload_names_each_missing_workload_field() -> None:
    doc, errors = spec.validate_results({"workload": {}, "claimed": {"mean_ttft_ms": 1.0}})
    assert doc is None
    assert [e["path"] for e in errors] == [f"workload.{key}" for key in spec.RESULTS_WORKLOAD_FIELDS]
    for key in spec.RESULTS_WORKLOAD_FIELDS:
        partial = copy.deepcopy(UPLOAD)
        del partial["workload"][key]
        _, errors = spec.validate_results(partial)
        assert [e["path"] for e in errors] == [f"workload.{key}"]
        assert "is required" in errors[0]["message"]


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d.pop("claimed"), "claimed"),
        (lambda d: d["claimed"].update(p99_ttft=3.0), "claimed.p99_ttft"),
        (lambda d: d["claimed"].update(mean_ttft_ms="fast"), "claimed.mean_ttft_ms"),
        (lambda d: d["workload"].update(concurrency=0), "workload.concurrency"),
        (lambda d: d["workload"].update(hardware=""), "workload.hardware"),
        (lambda d: d["workload"].update(gpu="H100"), "workload.gpu"),
        (lambda d: d["raw"].update(ttfts=[0.04]), "raw.ttfts"),
        (lambda d: d["raw"].pop("latencies"), "raw.latencies"),
        (lambda d: d["raw"].update(itls=[[0.01], "x"]), "raw.itls[1]"),
        (lambda d: d["raw"].update(output_lens=[2, -1]), "raw.output_lens[1]"),
        (lambda d: d["raw"].pop("start_times"), "raw.start_times"),
        (lambda d: d.update(extra=1), "extra"),
    ],
)
def test_invalid_upload_fields_are_named(mutate: Any, path: str) -> None:
    doc = copy.deepcopy(UPLOAD)
    mutate(doc)
    _, errors = spec.validate_results(doc)
    assert path in [e["path"] for e in errors]


def test_catalog_listing_for_the_spec_page() -> None:
    rows = {row["name"]: row for row in spec.catalog_listing()}
    assert set(rows) == {*spec.CPU_CATALOG, *spec.GPU_CATALOG}
    assert rows["tiny-llama"]["device_class"] == "cpu" and rows["llama-3.1-8b"]["device_class"] == "gpu"
    assert rows["llama-3.1-8b"]["params"] == 8_030_261_248 and rows["llama-3.1-8b"]["kv_bytes_per_token_bf16"] == 131072
    assert all(row["params"] < spec.CPU_MAX_PARAMS for row in rows.values() if row["device_class"] == "cpu")
    json.dumps(list(rows.values()))
