"""The inference benchmark's workload spec, its catalog of models, and the results-upload schema.

Standard library only: the web app imports this module (Python 3.12, no torch) to publish the
schemas and validate submissions before anything is queued, and the runner imports it (Python
3.11) to validate again and to decide whether its device can hold the workload.

Two documents are defined here:

* the **workload spec** a learner submits for the runner to execute (``SPEC_SCHEMA``,
  ``validate``, ``fits``, ``plan_requests``);
* the **results upload** a learner sends with measurements from their own runs elsewhere
  (``RESULTS_SCHEMA``, ``validate_results``); ``uploads.py`` recomputes its numbers.

Errors are dicts ``{"path": "prompt_tokens.max", "message": "..."}`` so the page can point at
the field. A path is dotted; list items are written ``concurrency[2]``.
"""

from __future__ import annotations

import copy
import math
import random
from typing import Any

SPEC_VERSION = "1"
RESULTS_VERSION = "1"

DTYPE_BYTES: dict[str, int] = {"float32": 4, "bfloat16": 2, "float16": 2}

# The only batching mode and arrival process the harness implements. They are fields of the spec
# so that a stored spec says what was run, and so a later runner can add modes without changing
# the meaning of old specs.
BATCHING_MODES = ("static",)
ARRIVAL_KINDS = ("closed",)
ATTN_IMPLEMENTATIONS = ("sdpa", "eager")

MAX_LEVELS = 16
MAX_CONCURRENCY = 1024
MAX_REQUESTS_PER_LEVEL = 4096
MAX_WARMUP_REQUESTS = 1024
MAX_TOKENS = 131072
# The harness stores one timestamp per generated token (an integer in JSON, ~12 bytes); this
# cap keeps a result document within the runner's output limit.
MAX_RECORDED_TOKENS = 1_000_000

GiB = 1024**3

# ---------------------------------------------------------------------------------------------
# Model families this benchmark can build from a config and estimate analytically.
#
# Each family lists the config keys a learner must give in an inline config and the defaults we
# fill in ourselves. We write every default into the normalised config explicitly, so the model
# the harness builds is exactly the one the estimator counted, whatever transformers' own class
# defaults are (they differ: Qwen3's head_dim defaults to 128, Qwen2's kv heads to 32).
# Mixture-of-experts families are left out on purpose: with random router weights the experts
# are not used the way a trained model uses them, so their timings would not mean much.
# ---------------------------------------------------------------------------------------------

LLAMA_LIKE = ("llama", "mistral", "qwen2", "qwen3")
FAMILIES: dict[str, dict[str, Any]] = {
    "llama": {
        "required": (
            "hidden_size",
            "intermediate_size",
            "num_hidden_layers",
            "num_attention_heads",
            "num_key_value_heads",
            "vocab_size",
            "max_position_embeddings",
        ),
        "defaults": {
            "tie_word_embeddings": False,
            "attention_bias": False,
            "mlp_bias": False,
        },
    },
    "mistral": {
        "required": (
            "hidden_size",
            "intermediate_size",
            "num_hidden_layers",
            "num_attention_heads",
            "num_key_value_heads",
            "vocab_size",
            "max_position_embeddings",
        ),
        "defaults": {"tie_word_embeddings": False, "sliding_window": None},
    },
    "qwen2": {
        "required": (
            "hidden_size",
            "intermediate_size",
            "num_hidden_layers",
            "num_attention_heads",
            "num_key_value_heads",
            "vocab_size",
            "max_position_embeddings",
        ),
        "defaults": {"tie_word_embeddings": False, "use_sliding_window": False},
    },
    "qwen3": {
        "required": (
            "hidden_size",
            "intermediate_size",
            "num_hidden_layers",
            "num_attention_heads",
            "num_key_value_heads",
            "head_dim",
            "vocab_size",
            "max_position_embeddings",
        ),
        "defaults": {
            "tie_word_embeddings": False,
            "attention_bias": False,
            "use_sliding_window": False,
        },
    },
    "gpt2": {
        "required": ("n_embd", "n_layer", "n_head", "vocab_size", "n_positions"),
        "defaults": {"n_inner": None, "tie_word_embeddings": True},
    },
}

# ---------------------------------------------------------------------------------------------
# Catalog. CPU entries are deliberately tiny (a few million parameters) so a whole benchmark runs
# in seconds on a 2-core runner; "small-llama" is the heavier CPU entry the overhead benchmark
# uses. GPU entries copy the shape fields of the published config.json files (weights are random;
# only shapes matter for timing and memory). The parameter counts in the notes are what these
# shapes give, and match the published model sizes.
# ---------------------------------------------------------------------------------------------

CPU_CATALOG: dict[str, dict[str, Any]] = {
    "tiny-llama": {
        "description": "Llama-style decoder, 4 layers, hidden 256, GQA 8 query / 2 KV heads (~7.0 M parameters)",
        "source": "made up for the CPU runner, shaped like Llama (RMSNorm, SwiGLU, RoPE, GQA)",
        "config": {
            "model_type": "llama",
            "hidden_size": 256,
            "intermediate_size": 704,
            "num_hidden_layers": 4,
            "num_attention_heads": 8,
            "num_key_value_heads": 2,
            "vocab_size": 8192,
            "max_position_embeddings": 2048,
            "rms_norm_eps": 1e-5,
            "rope_theta": 10000.0,
            "tie_word_embeddings": False,
        },
    },
    "tiny-qwen2": {
        "description": "Qwen2-style decoder, 4 layers, hidden 256, QKV bias, tied embeddings (~5.2 M parameters)",
        "source": "made up for the CPU runner, shaped like Qwen2 (QKV bias, tied embeddings)",
        "config": {
            "model_type": "qwen2",
            "hidden_size": 256,
            "intermediate_size": 768,
            "num_hidden_layers": 4,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "vocab_size": 8192,
            "max_position_embeddings": 2048,
            "rms_norm_eps": 1e-6,
            "rope_theta": 1000000.0,
            "tie_word_embeddings": True,
        },
    },
    "tiny-gpt2": {
        "description": "GPT-2-style decoder, 4 layers, hidden 256, learned positions, MHA (~5.5 M parameters)",
        "source": "made up for the CPU runner, shaped like GPT-2 (LayerNorm, GELU MLP, learned positions)",
        "config": {
            "model_type": "gpt2",
            "n_embd": 256,
            "n_layer": 4,
            "n_head": 4,
            "vocab_size": 8192,
            "n_positions": 1024,
            "bos_token_id": 8191,
            "eos_token_id": 8191,
        },
    },
    "small-llama": {
        "description": "Llama-style decoder, 8 layers, hidden 768, GQA 12 query / 4 KV heads (~99 M parameters)",
        "source": "made up for the CPU runner; heavy enough that a decode step takes tens of ms on 2 cores",
        "config": {
            "model_type": "llama",
            "hidden_size": 768,
            "intermediate_size": 2048,
            "num_hidden_layers": 8,
            "num_attention_heads": 12,
            "num_key_value_heads": 4,
            "vocab_size": 32000,
            "max_position_embeddings": 4096,
            "rms_norm_eps": 1e-5,
            "rope_theta": 10000.0,
            "tie_word_embeddings": False,
        },
    },
}

GPU_CATALOG: dict[str, dict[str, Any]] = {
    "qwen2.5-0.5b": {
        "description": "Qwen2.5-0.5B shapes (494,032,768 parameters)",
        "source": "Qwen/Qwen2.5-0.5B-Instruct config.json",
        "config": {
            "model_type": "qwen2",
            "hidden_size": 896,
            "intermediate_size": 4864,
            "num_hidden_layers": 24,
            "num_attention_heads": 14,
            "num_key_value_heads": 2,
            "vocab_size": 151936,
            "max_position_embeddings": 32768,
            "rms_norm_eps": 1e-6,
            "rope_theta": 1000000.0,
            "tie_word_embeddings": True,
            "bos_token_id": 151643,
            "eos_token_id": 151645,
        },
    },
    "llama-3.1-8b": {
        "description": "Llama 3.1 8B shapes (8,030,261,248 parameters)",
        "source": "meta-llama/Llama-3.1-8B config.json",
        "config": {
            "model_type": "llama",
            "hidden_size": 4096,
            "intermediate_size": 14336,
            "num_hidden_layers": 32,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "vocab_size": 128256,
            "max_position_embeddings": 131072,
            "rms_norm_eps": 1e-5,
            "rope_theta": 500000.0,
            "rope_scaling": {
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 8192,
                "rope_type": "llama3",
            },
            "tie_word_embeddings": False,
            "bos_token_id": 128000,
            "eos_token_id": 128001,
        },
    },
    "qwen2.5-7b": {
        "description": "Qwen2.5-7B shapes (7,615,616,512 parameters)",
        "source": "Qwen/Qwen2.5-7B-Instruct config.json",
        "config": {
            "model_type": "qwen2",
            "hidden_size": 3584,
            "intermediate_size": 18944,
            "num_hidden_layers": 28,
            "num_attention_heads": 28,
            "num_key_value_heads": 4,
            "vocab_size": 152064,
            "max_position_embeddings": 32768,
            "rms_norm_eps": 1e-6,
            "rope_theta": 1000000.0,
            "tie_word_embeddings": False,
            "bos_token_id": 151643,
            "eos_token_id": 151645,
        },
    },
    "mistral-7b-v0.3": {
        "description": "Mistral 7B v0.3 shapes (7,248,023,552 parameters)",
        "source": "mistralai/Mistral-7B-v0.3 config.json",
        "config": {
            "model_type": "mistral",
            "hidden_size": 4096,
            "intermediate_size": 14336,
            "num_hidden_layers": 32,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "vocab_size": 32768,
            "max_position_embeddings": 32768,
            "rms_norm_eps": 1e-5,
            "rope_theta": 1000000.0,
            "sliding_window": None,
            "tie_word_embeddings": False,
            "bos_token_id": 1,
            "eos_token_id": 2,
        },
    },
}

# What a CPU runner accepts beyond its catalog: an inline config no bigger than CPU_MAX_PARAMS,
# and a workload whose estimated run time (see estimate) fits CPU_TIME_BUDGET_S. The rates below
# are rough figures for one core of the 2-core development machine (prefill is matmul-bound and
# fast; a decode step is bound by reading the weights and by per-step Python overhead); they are
# meant to refuse the absurd, not to predict.
CPU_MAX_PARAMS = 150_000_000
CPU_TIME_BUDGET_S = 180.0
CPU_PREFILL_FLOP_PER_S = 40e9
CPU_DECODE_FLOP_PER_S = 10e9
CPU_BYTES_PER_S = 8e9
CPU_STEP_OVERHEAD_S = 0.003
# Memory a CPU runner grants a benchmark when the caller does not say (the sandbox's default
# memory limit is 4 GiB; torch and Python themselves take a few hundred MiB of it).
CPU_DEFAULT_MEMORY_BYTES = 4 * GiB
RUNTIME_OVERHEAD_BYTES = {"cpu": 600 * 1024**2, "cuda": 1 * GiB}
# Fraction of device memory a workload may plan to use; the rest absorbs allocator
# fragmentation and our estimate's slack.
MEMORY_HEADROOM = 0.9


def catalog_for(device_kind: str) -> dict[str, dict[str, Any]]:
    """The architectures a runner of this kind accepts by name (a GPU also runs the CPU ones)."""
    if device_kind == "cpu":
        return dict(CPU_CATALOG)
    return {**CPU_CATALOG, **GPU_CATALOG}


def catalog_entry(name: str) -> dict[str, Any] | None:
    return CPU_CATALOG.get(name) or GPU_CATALOG.get(name)


def catalog_listing() -> list[dict[str, Any]]:
    """The catalog as the spec page lists it: name, device class, description, source, sizes."""
    rows = []
    for device_class, catalog in (("cpu", CPU_CATALOG), ("gpu", GPU_CATALOG)):
        for name, entry in catalog.items():
            config = _normalise_config([], name, entry["config"])
            assert config is not None  # catalog entries are valid; the tests check each one
            rows.append(
                {
                    "name": name,
                    "device_class": device_class,
                    "model_type": config["model_type"],
                    "description": entry["description"],
                    "source": entry["source"],
                    "params": param_count(config),
                    "max_context": max_context(config),
                    "kv_bytes_per_token_bf16": kv_bytes_per_token(config, "bfloat16"),
                }
            )
    return rows


# ---------------------------------------------------------------------------------------------
# JSON Schemas (published on the spec page). The validators below are hand-written so the web
# app needs no jsonschema package; tests check the two agree on field names.
# ---------------------------------------------------------------------------------------------

_LENGTH_SCHEMA: dict[str, Any] = {
    "description": "A token count: an integer, or a distribution drawn per request with the spec's seed.",
    "oneOf": [
        {"type": "integer", "minimum": 1, "maximum": MAX_TOKENS},
        {
            "type": "object",
            "properties": {
                "kind": {"const": "fixed"},
                "value": {"type": "integer", "minimum": 1, "maximum": MAX_TOKENS},
            },
            "required": ["kind", "value"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "description": "Integers drawn uniformly from min..max inclusive.",
            "properties": {
                "kind": {"const": "uniform"},
                "min": {"type": "integer", "minimum": 1, "maximum": MAX_TOKENS},
                "max": {"type": "integer", "minimum": 1, "maximum": MAX_TOKENS},
            },
            "required": ["kind", "min", "max"],
            "additionalProperties": False,
        },
    ],
}

SPEC_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Layerwise inference benchmark workload spec",
    "type": "object",
    "properties": {
        "spec_version": {"const": SPEC_VERSION},
        "architecture": {
            "type": "string",
            "description": "A catalog name (see the catalog for your runner's device). Give this or config, not both.",
        },
        "config": {
            "type": "object",
            "description": "An inline Hugging Face config dict with model_type one of llama, mistral, qwen2, qwen3, gpt2. Weights are random.",
            "required": ["model_type"],
        },
        "dtype": {"enum": list(DTYPE_BYTES)},
        "attn_implementation": {"enum": list(ATTN_IMPLEMENTATIONS), "default": "sdpa"},
        "prompt_tokens": _LENGTH_SCHEMA,
        "output_tokens": _LENGTH_SCHEMA,
        "concurrency": {
            "type": "array",
            "description": "Concurrency levels, each run as static batches of this many requests.",
            "items": {"type": "integer", "minimum": 1, "maximum": MAX_CONCURRENCY},
            "minItems": 1,
            "maxItems": MAX_LEVELS,
            "uniqueItems": True,
        },
        "requests": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_REQUESTS_PER_LEVEL,
            "description": "Measured requests at each concurrency level.",
        },
        "warmup_requests": {
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_WARMUP_REQUESTS,
            "default": 1,
            "description": "Requests run and discarded before each level, rounded up to whole batches of that level's concurrency.",
        },
        "seed": {"type": "integer", "minimum": 0, "maximum": 2**32 - 1, "default": 0},
        "slo": {
            "type": "object",
            "description": "Service-level objectives for goodput, in milliseconds; a request is good when it meets every one given.",
            "properties": {
                "ttft_ms": {"type": "number", "exclusiveMinimum": 0},
                "tpot_ms": {"type": "number", "exclusiveMinimum": 0},
                "e2e_ms": {"type": "number", "exclusiveMinimum": 0},
            },
            "additionalProperties": False,
        },
        "arrival": {
            "type": "object",
            "description": "closed: a batch of `concurrency` requests starts when the previous batch has finished.",
            "properties": {"kind": {"enum": list(ARRIVAL_KINDS)}},
            "required": ["kind"],
            "additionalProperties": False,
            "default": {"kind": "closed"},
        },
        "batching": {"enum": list(BATCHING_MODES), "default": "static"},
    },
    "required": ["dtype", "prompt_tokens", "output_tokens", "concurrency", "requests"],
    "oneOf": [{"required": ["architecture"]}, {"required": ["config"]}],
    "additionalProperties": False,
}

EXAMPLE_SPEC: dict[str, Any] = {
    "architecture": "tiny-llama",
    "dtype": "float32",
    "prompt_tokens": {"kind": "uniform", "min": 16, "max": 64},
    "output_tokens": 32,
    "concurrency": [1, 4],
    "requests": 8,
    "warmup_requests": 1,
    "seed": 0,
    "slo": {"ttft_ms": 200, "tpot_ms": 50},
}

# Claimed summary numbers, named as in vLLM's `vllm bench serve --save-result` file so a learner
# can paste that file's fields. Latencies in milliseconds, throughputs per second.
LATENCY_METRICS = ("ttft", "tpot", "itl", "e2el")
LATENCY_STATS = ("mean", "median", "std", "p50", "p90", "p95", "p99", "min", "max")
CLAIM_KEYS: tuple[str, ...] = (
    *(f"{stat}_{metric}_ms" for metric in LATENCY_METRICS for stat in LATENCY_STATS),
    "completed",
    "failed",
    "duration",
    "total_input_tokens",
    "total_output_tokens",
    "request_throughput",
    "output_throughput",
    "total_token_throughput",
    "request_goodput",
)

# Per-request raw arrays, as vLLM's --save-detailed writes them: times in seconds.
RAW_ARRAYS: dict[str, str] = {
    "start_times": "number",
    "ttfts": "number",
    "itls": "array",
    "latencies": "number",
    "output_lens": "integer",
    "input_lens": "integer",
    "errors": "string",
}
RAW_REQUIRED = ("ttfts", "latencies", "output_lens")

RESULTS_WORKLOAD_FIELDS: dict[str, str] = {
    "model": "the model measured (e.g. a Hugging Face id)",
    "dtype": "weights/activation dtype (e.g. bfloat16, fp8)",
    "hardware": "the device, e.g. '1x NVIDIA H100 80GB SXM'",
    "engine": "the serving engine or harness (e.g. vllm, sglang, hf-transformers)",
    "engine_version": "its version",
    "prompt_tokens": "prompt length: an integer or a distribution",
    "output_tokens": "output length: an integer or a distribution",
    "concurrency": "maximum requests in flight",
    "num_requests": "measured requests (warm-ups excluded)",
}

RESULTS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Layerwise inference benchmark results upload",
    "type": "object",
    "properties": {
        "results_version": {"const": RESULTS_VERSION},
        "workload": {
            "type": "object",
            "properties": {
                "model": {"type": "string", "minLength": 1},
                "dtype": {"type": "string", "minLength": 1},
                "hardware": {"type": "string", "minLength": 1},
                "engine": {"type": "string", "minLength": 1},
                "engine_version": {"type": "string", "minLength": 1},
                "prompt_tokens": _LENGTH_SCHEMA,
                "output_tokens": _LENGTH_SCHEMA,
                "concurrency": {"type": "integer", "minimum": 1},
                "num_requests": {"type": "integer", "minimum": 1},
                "request_rate": {
                    "description": "Requests per second offered, or 'inf' for all at once.",
                    "oneOf": [
                        {"type": "number", "exclusiveMinimum": 0},
                        {"const": "inf"},
                    ],
                },
                "ignore_eos": {"type": "boolean"},
                "seed": {"type": "integer"},
                "notes": {"type": "string"},
                "slo": SPEC_SCHEMA["properties"]["slo"],
            },
            "required": list(RESULTS_WORKLOAD_FIELDS),
            "additionalProperties": False,
        },
        "claimed": {
            "type": "object",
            "description": "Summary numbers you measured, vLLM names: latencies in ms, throughputs per second, duration in s.",
            "properties": {key: {"type": "number", "minimum": 0} for key in CLAIM_KEYS},
            "additionalProperties": False,
            "minProperties": 1,
        },
        "raw": {
            "type": "object",
            "description": "Per-request arrays (vLLM --save-detailed layout), one entry per measured request, times in seconds.",
            "properties": {
                "start_times": {"type": "array", "items": {"type": "number"}},
                "ttfts": {"type": "array", "items": {"type": "number", "minimum": 0}},
                "itls": {
                    "type": "array",
                    "items": {
                        "type": "array",
                        "items": {"type": "number", "minimum": 0},
                    },
                },
                "latencies": {
                    "type": "array",
                    "items": {"type": "number", "minimum": 0},
                },
                "output_lens": {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 0},
                },
                "input_lens": {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 0},
                },
                "errors": {"type": "array", "items": {"type": "string"}},
                "duration": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "description": "Benchmark wall time in s; derived from start_times + latencies when absent.",
                },
            },
            "required": list(RAW_REQUIRED),
            "additionalProperties": False,
        },
    },
    "required": ["workload", "claimed"],
    "additionalProperties": False,
}


# ---------------------------------------------------------------------------------------------
# Small validation helpers
# ---------------------------------------------------------------------------------------------


def _err(errors: list[dict[str, str]], path: str, message: str) -> None:
    errors.append({"path": path, "message": message})


def _is_int(value: Any) -> bool:
    # bool is an int subclass in Python; a JSON true is not a token count.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, int | float)) and not isinstance(value, bool) and math.isfinite(float(value))


def _int_in(errors: list[dict[str, str]], path: str, value: Any, low: int, high: int) -> int | None:
    if not _is_int(value):
        _err(errors, path, f"must be an integer, got {type(value).__name__}")
        return None
    if value < low or value > high:
        _err(errors, path, f"must be between {low} and {high}, got {value}")
        return None
    return int(value)


def _length(errors: list[dict[str, str]], path: str, value: Any) -> dict[str, Any] | None:
    """Normalise a token-count field to {"kind": "fixed", "value": n} or {"kind": "uniform", ...}."""
    if _is_int(value):
        n = _int_in(errors, path, value, 1, MAX_TOKENS)
        return None if n is None else {"kind": "fixed", "value": n}
    if not isinstance(value, dict):
        _err(errors, path, "must be an integer or an object with a 'kind'")
        return None
    kind = value.get("kind")
    if kind == "fixed":
        extra = set(value) - {"kind", "value"}
        if extra:
            _err(errors, f"{path}.{sorted(extra)[0]}", "unknown field for kind 'fixed'")
        if "value" not in value:
            _err(errors, f"{path}.value", "is required for kind 'fixed'")
            return None
        n = _int_in(errors, f"{path}.value", value["value"], 1, MAX_TOKENS)
        return None if n is None else {"kind": "fixed", "value": n}
    if kind == "uniform":
        extra = set(value) - {"kind", "min", "max"}
        if extra:
            _err(errors, f"{path}.{sorted(extra)[0]}", "unknown field for kind 'uniform'")
        lo = hi = None
        for key in ("min", "max"):
            if key not in value:
                _err(errors, f"{path}.{key}", "is required for kind 'uniform'")
        if "min" in value:
            lo = _int_in(errors, f"{path}.min", value["min"], 1, MAX_TOKENS)
        if "max" in value:
            hi = _int_in(errors, f"{path}.max", value["max"], 1, MAX_TOKENS)
        if lo is None or hi is None:
            return None
        if hi < lo:
            _err(errors, f"{path}.max", f"must be >= min ({lo}), got {hi}")
            return None
        return {"kind": "uniform", "min": lo, "max": hi}
    _err(errors, f"{path}.kind", f"must be 'fixed' or 'uniform', got {kind!r}")
    return None


def length_bounds(dist: dict[str, Any]) -> tuple[int, int]:
    """(smallest, largest) token count a normalised length distribution can produce."""
    if dist["kind"] == "fixed":
        return dist["value"], dist["value"]
    return dist["min"], dist["max"]


def draw_length(dist: dict[str, Any], rng: random.Random) -> int:
    if dist["kind"] == "fixed":
        return int(dist["value"])
    return rng.randint(dist["min"], dist["max"])


def _slo(errors: list[dict[str, str]], path: str, value: Any) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        _err(errors, path, "must be an object with ttft_ms, tpot_ms and/or e2e_ms")
        return {}
    out: dict[str, float] = {}
    for key, item in value.items():
        if key not in ("ttft_ms", "tpot_ms", "e2e_ms"):
            _err(errors, f"{path}.{key}", "unknown SLO; use ttft_ms, tpot_ms or e2e_ms")
        elif not _is_number(item) or float(item) <= 0:
            _err(errors, f"{path}.{key}", "must be a positive number of milliseconds")
        else:
            out[key] = float(item)
    return out


# ---------------------------------------------------------------------------------------------
# Model config: normalisation, parameter count, KV bytes
# ---------------------------------------------------------------------------------------------


def _normalise_config(errors: list[dict[str, str]], path: str, config: Any) -> dict[str, Any] | None:
    if not isinstance(config, dict):
        _err(errors, path, "must be an object (a Hugging Face config dict)")
        return None
    model_type = config.get("model_type")
    if model_type not in FAMILIES:
        _err(
            errors,
            f"{path}.model_type",
            f"must be one of {', '.join(FAMILIES)} (mixture-of-experts and other families are not "
            f"supported: random router weights make MoE timings unrepresentative), got {model_type!r}",
        )
        return None
    family = FAMILIES[model_type]
    out = copy.deepcopy(config)
    out.pop("architectures", None)
    # A dtype inside the config would fight the spec's dtype field; the spec's wins.
    out.pop("torch_dtype", None)
    out.pop("dtype", None)
    ok = True
    for key in family["required"]:
        if key not in config:
            _err(errors, f"{path}.{key}", f"is required for model_type {model_type!r}")
            ok = False
        elif _int_in(errors, f"{path}.{key}", config[key], 1, 10**7) is None:
            ok = False
    if not ok:
        return None
    for key, default in family["defaults"].items():
        out.setdefault(key, default)
    if model_type in LLAMA_LIKE:
        heads, kv = out["num_attention_heads"], out["num_key_value_heads"]
        if heads % kv:
            _err(
                errors,
                f"{path}.num_key_value_heads",
                f"must divide num_attention_heads ({heads})",
            )
            return None
        if out.get("head_dim") is None:
            if out["hidden_size"] % heads:
                _err(
                    errors,
                    f"{path}.head_dim",
                    "is required when hidden_size is not a multiple of num_attention_heads",
                )
                return None
            out["head_dim"] = out["hidden_size"] // heads
        if model_type == "qwen2" and out["hidden_size"] != heads * out["head_dim"]:
            # transformers' Qwen2 attention always uses hidden_size // heads.
            _err(
                errors,
                f"{path}.head_dim",
                "qwen2 requires head_dim == hidden_size / num_attention_heads",
            )
            return None
        # Sliding-window attention changes what the cache holds; the roofline and the memory
        # estimate here assume every layer attends to the whole context, so refuse it.
        if out.get("sliding_window") not in (None, 0) and (model_type == "mistral" or out.get("use_sliding_window")):
            _err(
                errors,
                f"{path}.sliding_window",
                "sliding-window attention is not supported by this benchmark",
            )
            return None
        if out.get("use_sliding_window"):
            _err(
                errors,
                f"{path}.use_sliding_window",
                "sliding-window attention is not supported by this benchmark",
            )
            return None
    else:  # gpt2
        if out["n_embd"] % out["n_head"]:
            _err(errors, f"{path}.n_head", "must divide n_embd")
            return None
        vocab = out["vocab_size"]
        # GPT-2's published ids (50256) lie outside a small vocabulary; transformers warns.
        for key in ("bos_token_id", "eos_token_id"):
            if not _is_int(out.get(key)) or not 0 <= out[key] < vocab:
                out[key] = vocab - 1
    return out


def max_context(config: dict[str, Any]) -> int:
    return int(config["n_positions"] if config["model_type"] == "gpt2" else config["max_position_embeddings"])


def param_count(config: dict[str, Any]) -> int:
    """Exact parameter count of the transformers model built from this normalised config.

    Counted once per tensor: tied input and output embeddings are one tensor. Checked against
    the built model in the runner-env tests and against the published sizes in the catalog.
    """
    mt = config["model_type"]
    vocab = config["vocab_size"]
    if mt == "gpt2":
        e, layers = config["n_embd"], config["n_layer"]
        inner = config.get("n_inner") or 4 * e
        per_layer = (
            2 * e  # ln_1
            + e * 3 * e
            + 3 * e  # c_attn
            + e * e
            + e  # attn c_proj
            + 2 * e  # ln_2
            + e * inner
            + inner  # mlp c_fc
            + inner * e
            + e  # mlp c_proj
        )
        total = vocab * e + config["n_positions"] * e + layers * per_layer + 2 * e
        if not config.get("tie_word_embeddings", True):
            total += vocab * e
        return total
    h = config["hidden_size"]
    inter = config["intermediate_size"]
    layers = config["num_hidden_layers"]
    heads, kv, hd = (
        config["num_attention_heads"],
        config["num_key_value_heads"],
        config["head_dim"],
    )
    q, kvd = heads * hd, kv * hd
    attn = h * q + 2 * h * kvd + q * h
    if mt == "qwen2":
        attn += q + 2 * kvd  # Qwen2 always has q/k/v biases
    elif config.get("attention_bias"):
        attn += q + 2 * kvd + h
    if mt == "qwen3":
        attn += 2 * hd  # per-head RMSNorm on q and k
    mlp = 3 * h * inter
    if config.get("mlp_bias"):
        mlp += 2 * inter + h
    per_layer = attn + mlp + 2 * h
    total = vocab * h + layers * per_layer + h
    if not config.get("tie_word_embeddings"):
        total += vocab * h
    return total


def embedding_params(config: dict[str, Any]) -> int:
    """Parameters of lookup tables that a decode step reads only a few rows of.

    With untied embeddings the input table is a gather of B rows, not a full read; GPT-2's
    learned position table is the same. A tied table is read in full by the output head.
    """
    if config["model_type"] == "gpt2":
        e = config["n_embd"]
        table = 0 if config.get("tie_word_embeddings", True) else config["vocab_size"] * e
        return table + config["n_positions"] * e
    if config.get("tie_word_embeddings"):
        return 0
    return config["vocab_size"] * config["hidden_size"]


def kv_bytes_per_token(config: dict[str, Any], dtype: str) -> int:
    """K and V bytes one token adds to the cache of one sequence, all layers: 2·L·kv_heads·head_dim·bytes."""
    b = DTYPE_BYTES[dtype]
    if config["model_type"] == "gpt2":
        return 2 * config["n_layer"] * config["n_embd"] * b
    return 2 * config["num_hidden_layers"] * config["num_key_value_heads"] * config["head_dim"] * b


# ---------------------------------------------------------------------------------------------
# Spec validation
# ---------------------------------------------------------------------------------------------

_SPEC_FIELDS = set(SPEC_SCHEMA["properties"])


def validate(spec: Any) -> tuple[dict[str, Any] | None, list[dict[str, str]]]:
    """Check a workload spec; return (normalised spec, []) or (None, errors).

    The normalised spec spells everything out: the resolved config (a copy of the catalog entry
    or the inline config with our defaults filled in), lengths as distributions, defaults for
    warm-ups, seed, SLO, arrival and batching.
    """
    errors: list[dict[str, str]] = []
    if not isinstance(spec, dict):
        return None, [{"path": "", "message": "the spec must be a JSON object"}]
    for key in sorted(set(spec) - _SPEC_FIELDS):
        _err(errors, key, "unknown field")
    if spec.get("spec_version", SPEC_VERSION) != SPEC_VERSION:
        _err(errors, "spec_version", f"must be {SPEC_VERSION!r}")

    architecture = spec.get("architecture")
    config: dict[str, Any] | None = None
    if "architecture" in spec and "config" in spec:
        _err(errors, "architecture", "give architecture or config, not both")
    elif "architecture" in spec:
        entry = catalog_entry(architecture) if isinstance(architecture, str) else None
        if entry is None:
            names = ", ".join([*CPU_CATALOG, *GPU_CATALOG])
            _err(
                errors,
                "architecture",
                f"unknown architecture {architecture!r}; the catalog has: {names}",
            )
        else:
            config = _normalise_config(errors, "architecture", entry["config"])
    elif "config" in spec:
        architecture = None
        config = _normalise_config(errors, "config", spec["config"])
    else:
        _err(
            errors,
            "architecture",
            "give a catalog architecture name or an inline config",
        )

    # Required, with no default: an unstated dtype is the classic benchmarking trap (a model
    # built from a config silently runs in float32).
    dtype = spec.get("dtype")
    if dtype is None:
        _err(errors, "dtype", f"is required: one of {', '.join(DTYPE_BYTES)}")
    elif dtype not in DTYPE_BYTES:
        _err(errors, "dtype", f"must be one of {', '.join(DTYPE_BYTES)}, got {dtype!r}")
    attn = spec.get("attn_implementation", "sdpa")
    if attn not in ATTN_IMPLEMENTATIONS:
        _err(
            errors,
            "attn_implementation",
            f"must be one of {', '.join(ATTN_IMPLEMENTATIONS)}",
        )

    prompt = output = None
    for key in ("prompt_tokens", "output_tokens"):
        if key not in spec:
            _err(errors, key, "is required")
    if "prompt_tokens" in spec:
        prompt = _length(errors, "prompt_tokens", spec["prompt_tokens"])
    if "output_tokens" in spec:
        output = _length(errors, "output_tokens", spec["output_tokens"])

    levels: list[int] = []
    conc = spec.get("concurrency")
    if conc is None:
        _err(errors, "concurrency", "is required (a list of concurrency levels)")
    elif _is_int(conc):
        _err(errors, "concurrency", "must be a list of levels, e.g. [1, 4]")
    elif not isinstance(conc, list) or not conc:
        _err(errors, "concurrency", "must be a non-empty list of integers")
    elif len(conc) > MAX_LEVELS:
        _err(errors, "concurrency", f"at most {MAX_LEVELS} levels")
    else:
        for i, level in enumerate(conc):
            n = _int_in(errors, f"concurrency[{i}]", level, 1, MAX_CONCURRENCY)
            if n is not None:
                if n in levels:
                    _err(errors, f"concurrency[{i}]", f"level {n} is listed twice")
                else:
                    levels.append(n)

    requests = None
    if "requests" not in spec:
        _err(errors, "requests", "is required (measured requests per level)")
    else:
        requests = _int_in(errors, "requests", spec["requests"], 1, MAX_REQUESTS_PER_LEVEL)
    warmup = _int_in(
        errors,
        "warmup_requests",
        spec.get("warmup_requests", 1),
        0,
        MAX_WARMUP_REQUESTS,
    )
    seed = _int_in(errors, "seed", spec.get("seed", 0), 0, 2**32 - 1)
    slo = _slo(errors, "slo", spec.get("slo"))

    arrival = spec.get("arrival", {"kind": "closed"})
    if not isinstance(arrival, dict) or arrival.get("kind") not in ARRIVAL_KINDS:
        _err(
            errors,
            "arrival.kind",
            "only 'closed' is supported: each batch of `concurrency` requests starts when the "
            "previous batch has finished (static batching has no slot for an open-loop arrival)",
        )
    elif set(arrival) - {"kind"}:
        _err(errors, f"arrival.{sorted(set(arrival) - {'kind'})[0]}", "unknown field")
    batching = spec.get("batching", "static")
    if batching not in BATCHING_MODES:
        _err(errors, "batching", f"must be one of {', '.join(BATCHING_MODES)}")

    if config is not None and prompt is not None and output is not None:
        longest = length_bounds(prompt)[1] + length_bounds(output)[1]
        limit = max_context(config)
        if longest > limit:
            _err(
                errors,
                "output_tokens",
                f"the longest request ({longest} tokens, prompt + output) exceeds the model's "
                f"context of {limit} positions",
            )

    if output is not None and requests is not None and levels:
        recorded = length_bounds(output)[1] * requests * len(levels)
        if recorded > MAX_RECORDED_TOKENS:
            _err(
                errors,
                "requests",
                f"up to {recorded} output tokens would be timed (max output x requests x levels); "
                f"the limit is {MAX_RECORDED_TOKENS}",
            )

    if errors:
        return None, errors
    assert config is not None and prompt is not None and output is not None
    return {
        "spec_version": SPEC_VERSION,
        "architecture": architecture,
        "config": config,
        "dtype": dtype,
        "attn_implementation": attn,
        "prompt_tokens": prompt,
        "output_tokens": output,
        "concurrency": levels,
        "requests": requests,
        "warmup_requests": warmup,
        "seed": seed,
        "slo": slo,
        "arrival": {"kind": "closed"},
        "batching": batching,
    }, []


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
            draw_length(spec["prompt_tokens"], rng),
            draw_length(spec["output_tokens"], rng),
        )
        for _ in range(spec["requests"])
    ]
    levels = []
    for i, c in enumerate(spec["concurrency"]):
        warm_rng = random.Random(spec["seed"] + 7919 * (i + 1))
        n_warm = math.ceil(spec["warmup_requests"] / c) * c if spec["warmup_requests"] else 0
        warmup = [
            (
                draw_length(spec["prompt_tokens"], warm_rng),
                draw_length(spec["output_tokens"], warm_rng),
            )
            for _ in range(n_warm)
        ]
        levels.append({"concurrency": c, "warmup": warmup, "requests": list(measured)})
    return levels


# ---------------------------------------------------------------------------------------------
# Will it fit?
# ---------------------------------------------------------------------------------------------


def estimate(spec: dict[str, Any]) -> dict[str, Any]:
    """Memory a normalised spec needs (bytes, by term) and its estimated run time on a CPU runner."""
    config, dtype = spec["config"], spec["dtype"]
    b = DTYPE_BYTES[dtype]
    params = param_count(config)
    p_max = length_bounds(spec["prompt_tokens"])[1]
    o_max = length_bounds(spec["output_tokens"])[1]
    c_max = max(spec["concurrency"])
    ctx = p_max + o_max
    weights = params * b
    kv = kv_bytes_per_token(config, dtype) * c_max * ctx
    if config["model_type"] == "gpt2":
        hidden, inter, heads = (
            config["n_embd"],
            config.get("n_inner") or 4 * config["n_embd"],
            config["n_head"],
        )
    else:
        hidden, inter, heads = (
            config["hidden_size"],
            config["intermediate_size"],
            config["num_attention_heads"],
        )
    tokens = c_max * p_max
    # The largest transient tensors of a prefill: a few hidden-sized activations, the MLP's
    # intermediate tensors, and (eager attention only) the full score matrix with its softmax
    # copy. SDPA's kernels do not materialise the scores. Logits are kept for the last position
    # only, upcast to float32.
    activations = tokens * (4 * hidden + 3 * inter) * b + c_max * config["vocab_size"] * 4
    if spec["attn_implementation"] == "eager":
        activations += 2 * c_max * heads * p_max * p_max * b
    # CPU time: per batch, a prefill of rows x padded prompt tokens (2 FLOPs per dense parameter
    # per token, plus attention's ~4·P·hidden per token per layer) and decode steps that each
    # read the dense weights once and do 2 FLOPs per dense parameter per row. Static batches pad
    # to the longest request, hence the maxima.
    layers = config["n_layer"] if config["model_type"] == "gpt2" else config["num_hidden_layers"]
    dense = params - embedding_params(config)
    seconds = 0.0
    for c in spec["concurrency"]:
        sizes = [c] * (spec["requests"] // c) + ([spec["requests"] % c] if spec["requests"] % c else [])
        sizes += [c] * math.ceil(spec["warmup_requests"] / c)
        for rows in sizes:
            prefill = rows * p_max * (2 * dense + 2 * p_max * hidden * layers)
            step = max(dense * b / CPU_BYTES_PER_S, rows * 2 * dense / CPU_DECODE_FLOP_PER_S) + CPU_STEP_OVERHEAD_S
            seconds += prefill / CPU_PREFILL_FLOP_PER_S + (o_max - 1) * step
    return {
        "params": params,
        "weight_bytes": weights,
        "kv_bytes": kv,
        "activation_bytes": activations,
        "cpu_seconds": seconds,
        "max_concurrency": c_max,
        "max_context": ctx,
    }


def fits(spec: dict[str, Any], device: dict[str, Any]) -> tuple[bool, str]:
    """Can this device run this normalised spec? (True, summary) or (False, the reason).

    ``device`` is ``{"kind": "cpu" | "cuda", "name": str, "memory_bytes": int}``: for a GPU its
    total memory, for a CPU the memory the benchmark may use (the sandbox limit).
    """
    kind = device.get("kind")
    if kind not in ("cpu", "cuda"):
        return False, f"unknown device kind {kind!r}"
    name = spec.get("architecture")
    if kind == "cpu":
        if name is not None and name not in CPU_CATALOG:
            return False, (
                f"{name} is in the GPU catalog; a CPU runner runs only {', '.join(CPU_CATALOG)} "
                "or a small inline config"
            )
        if spec["dtype"] == "float16":
            return (
                False,
                "float16 is not offered on a CPU runner (slow, partly emulated kernels); use float32 or bfloat16",
            )
    est = estimate(spec)
    if kind == "cpu" and est["params"] > CPU_MAX_PARAMS:
        return False, (
            f"the model has {est['params'] / 1e6:.1f} M parameters; a CPU runner takes at most "
            f"{CPU_MAX_PARAMS / 1e6:.0f} M"
        )
    if kind == "cpu" and est["cpu_seconds"] > CPU_TIME_BUDGET_S:
        return False, (
            f"the workload would take about {est['cpu_seconds']:.0f} s on a CPU runner, over its "
            f"budget of {CPU_TIME_BUDGET_S:.0f} s; use fewer requests, shorter lengths or fewer levels"
        )
    memory = device.get("memory_bytes") or (CPU_DEFAULT_MEMORY_BYTES if kind == "cpu" else 0)
    budget = memory * MEMORY_HEADROOM
    overhead = RUNTIME_OVERHEAD_BYTES[kind]
    need = est["weight_bytes"] + est["kv_bytes"] + est["activation_bytes"] + overhead
    terms = (
        f"weights {est['weight_bytes'] / GiB:.2f} GiB + KV cache {est['kv_bytes'] / GiB:.2f} GiB "
        f"(concurrency {est['max_concurrency']} x {est['max_context']} tokens) + activations "
        f"{est['activation_bytes'] / GiB:.2f} GiB + runtime {overhead / GiB:.2f} GiB"
    )
    where = device.get("name") or kind
    if need > budget:
        return False, (
            f"needs about {need / GiB:.2f} GiB ({terms}) but {where} offers "
            f"{budget / GiB:.2f} GiB ({MEMORY_HEADROOM:.0%} of {memory / GiB:.2f} GiB)"
        )
    return True, f"about {need / GiB:.2f} GiB of {budget / GiB:.2f} GiB ({terms})"


# ---------------------------------------------------------------------------------------------
# Results upload validation
# ---------------------------------------------------------------------------------------------


def validate_results(doc: Any) -> tuple[dict[str, Any] | None, list[dict[str, str]]]:
    """Check a results upload; return (normalised document, []) or (None, errors).

    Every workload field is required, and each missing one is reported by name: numbers
    without the workload that produced them cannot be compared with anything.
    """
    errors: list[dict[str, str]] = []
    if not isinstance(doc, dict):
        return None, [{"path": "", "message": "the upload must be a JSON object"}]
    for key in sorted(set(doc) - set(RESULTS_SCHEMA["properties"])):
        _err(errors, key, "unknown field")
    if doc.get("results_version", RESULTS_VERSION) != RESULTS_VERSION:
        _err(errors, "results_version", f"must be {RESULTS_VERSION!r}")

    workload_in = doc.get("workload")
    workload: dict[str, Any] = {}
    if not isinstance(workload_in, dict):
        _err(errors, "workload", "is required: an object describing what was measured")
        workload_in = {}
    allowed = set(RESULTS_SCHEMA["properties"]["workload"]["properties"])
    for key in sorted(set(workload_in) - allowed):
        _err(errors, f"workload.{key}", "unknown field")
    for key, meaning in RESULTS_WORKLOAD_FIELDS.items():
        if key not in workload_in or workload_in[key] in (None, ""):
            _err(errors, f"workload.{key}", f"is required: {meaning}")
            continue
        value = workload_in[key]
        path = f"workload.{key}"
        if key in ("prompt_tokens", "output_tokens"):
            workload[key] = _length(errors, path, value)
        elif key == "concurrency":
            workload[key] = _int_in(errors, path, value, 1, 10**6)
        elif key == "num_requests":
            workload[key] = _int_in(errors, path, value, 1, 10**7)
        elif not isinstance(value, str):
            _err(errors, path, "must be a string")
        else:
            workload[key] = value
    if "request_rate" in workload_in:
        rate = workload_in["request_rate"]
        if rate != "inf" and (not _is_number(rate) or rate <= 0):
            _err(errors, "workload.request_rate", "must be a positive number or 'inf'")
        else:
            workload["request_rate"] = rate
    for key, typ in (("ignore_eos", bool), ("notes", str)):
        if key in workload_in:
            if not isinstance(workload_in[key], typ):
                _err(errors, f"workload.{key}", f"must be a {typ.__name__}")
            else:
                workload[key] = workload_in[key]
    if "seed" in workload_in:
        if not _is_int(workload_in["seed"]):
            _err(errors, "workload.seed", "must be an integer")
        else:
            workload["seed"] = workload_in["seed"]
    workload["slo"] = _slo(errors, "workload.slo", workload_in.get("slo"))

    claimed_in = doc.get("claimed")
    claimed: dict[str, float] = {}
    if not isinstance(claimed_in, dict) or not claimed_in:
        _err(errors, "claimed", "is required: at least one summary number you measured")
    else:
        for key, value in claimed_in.items():
            if key not in CLAIM_KEYS:
                _err(
                    errors,
                    f"claimed.{key}",
                    "unknown metric name (use vLLM's names, e.g. mean_ttft_ms, p99_tpot_ms, output_throughput)",
                )
            elif not _is_number(value) or value < 0:
                _err(errors, f"claimed.{key}", "must be a non-negative number")
            else:
                claimed[key] = float(value)

    raw = None
    if doc.get("raw") is not None:
        raw = _validate_raw(errors, doc["raw"])

    if errors:
        return None, errors
    return {
        "results_version": RESULTS_VERSION,
        "workload": workload,
        "claimed": claimed,
        "raw": raw,
    }, []


def _validate_raw(errors: list[dict[str, str]], raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        _err(errors, "raw", "must be an object of per-request arrays")
        return None
    for key in sorted(set(raw) - {*RAW_ARRAYS, "duration"}):
        _err(errors, f"raw.{key}", "unknown field")
    for key in RAW_REQUIRED:
        if key not in raw:
            _err(errors, f"raw.{key}", "is required when raw arrays are uploaded")
    n = None
    out: dict[str, Any] = {}
    before = len(errors)
    for key, kind in RAW_ARRAYS.items():
        if key not in raw:
            continue
        values = raw[key]
        path = f"raw.{key}"
        if not isinstance(values, list):
            _err(errors, path, "must be a list with one entry per request")
            continue
        if n is None:
            n = len(values)
        elif len(values) != n:
            _err(errors, path, f"has {len(values)} entries; the other arrays have {n}")
            continue
        for i, v in enumerate(values):
            if kind == "number" and not _is_number(v):
                _err(errors, f"{path}[{i}]", "must be a number (seconds)")
                break
            if kind == "integer" and (not _is_int(v) or v < 0):
                _err(errors, f"{path}[{i}]", "must be a non-negative integer")
                break
            if kind == "string" and v is not None and not isinstance(v, str):
                _err(errors, f"{path}[{i}]", "must be a string ('' or null for success)")
                break
            if kind == "array" and (not isinstance(v, list) or not all(_is_number(x) for x in v)):
                _err(errors, f"{path}[{i}]", "must be a list of numbers (seconds)")
                break
        out[key] = values
    if "duration" in raw:
        if not _is_number(raw["duration"]) or raw["duration"] <= 0:
            _err(errors, "raw.duration", "must be a positive number of seconds")
        else:
            out["duration"] = float(raw["duration"])
    if "duration" not in out and "start_times" not in out:
        _err(
            errors,
            "raw.start_times",
            "is required when raw.duration is not given (throughput needs a duration)",
        )
    if len(errors) > before:
        return None
    return out
