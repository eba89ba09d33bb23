"""The workload spec a learner submits for the runner to execute: its limits, JSON Schema and validator.

Standard library only: the web app validates a spec (Python 3.12, no torch) before anything is
queued and publishes `SPEC_SCHEMA`; the runner (Python 3.11) validates it again. `validate`
returns the normalised spec that `planning.plan_requests` and `fitting.fits` read.

A new workload field is added in three places side by side: its entry in `SPEC_SCHEMA`, a
section check below (each reads one concern of the spec and adds errors at the field's path),
and its key in the normalised spec `validate` returns; `planning` then reads it.
"""

from __future__ import annotations

from typing import Any

from . import catalog, checks, lengths, model_config
from .checks import Errors, add_error, int_in, is_int

SPEC_VERSION = "1"

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
# The harness stores one timestamp per generated token (an integer in JSON, ~12 bytes); this
# cap keeps a result document within the runner's output limit.
MAX_RECORDED_TOKENS = 1_000_000

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
        "dtype": {"enum": list(model_config.DTYPE_BYTES)},
        "attn_implementation": {"enum": list(ATTN_IMPLEMENTATIONS), "default": "sdpa"},
        "prompt_tokens": lengths.SCHEMA,
        "output_tokens": lengths.SCHEMA,
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
        "slo": checks.SLO_SCHEMA,
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


_SPEC_FIELDS = set(SPEC_SCHEMA["properties"])


def validate(spec: Any) -> tuple[dict[str, Any] | None, list[dict[str, str]]]:
    """Check a workload spec; return (normalised spec, []) or (None, errors).

    The normalised spec spells everything out: the resolved config (a copy of the catalog entry
    or the inline config with our defaults filled in), lengths as distributions, defaults for
    warm-ups, seed, SLO, arrival and batching. Errors come in the order of the checks below.
    """
    errors: Errors = []
    if not isinstance(spec, dict):
        return None, [{"path": "", "message": "the spec must be a JSON object"}]
    for key in sorted(set(spec) - _SPEC_FIELDS):
        add_error(errors, key, "unknown field")
    if spec.get("spec_version", SPEC_VERSION) != SPEC_VERSION:
        add_error(errors, "spec_version", f"must be {SPEC_VERSION!r}")

    architecture, config = _model(errors, spec)
    dtype = _dtype(errors, spec.get("dtype"))
    attn = _attention(errors, spec.get("attn_implementation", "sdpa"))
    prompt, output = _lengths(errors, spec)
    levels = _levels(errors, spec.get("concurrency"))
    requests = None
    if "requests" not in spec:
        add_error(errors, "requests", "is required (measured requests per level)")
    else:
        requests = int_in(errors, "requests", spec["requests"], 1, MAX_REQUESTS_PER_LEVEL)
    warmup = int_in(
        errors,
        "warmup_requests",
        spec.get("warmup_requests", 1),
        0,
        MAX_WARMUP_REQUESTS,
    )
    seed = int_in(errors, "seed", spec.get("seed", 0), 0, 2**32 - 1)
    slo = checks.slo(errors, "slo", spec.get("slo"))
    arrival = _arrival(errors, spec.get("arrival", {"kind": "closed"}))
    batching = _batching(errors, spec.get("batching", "static"))

    if config is not None and prompt is not None and output is not None:
        _check_context(errors, config, prompt, output)
    if output is not None and requests is not None and levels:
        _check_recorded_tokens(errors, output, requests, levels)

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
        "arrival": arrival,
        "batching": batching,
    }, []


def _model(errors: Errors, spec: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    """(catalog name or None, normalised config) from `architecture` or an inline `config`."""
    architecture = spec.get("architecture")
    config: dict[str, Any] | None = None
    if "architecture" in spec and "config" in spec:
        add_error(errors, "architecture", "give architecture or config, not both")
    elif "architecture" in spec:
        entry = catalog.entry(architecture) if isinstance(architecture, str) else None
        if entry is None:
            names = ", ".join([*catalog.CPU_CATALOG, *catalog.GPU_CATALOG])
            add_error(
                errors,
                "architecture",
                f"unknown architecture {architecture!r}; the catalog has: {names}",
            )
        else:
            config = model_config.normalise(errors, "architecture", entry["config"])
    elif "config" in spec:
        architecture = None
        config = model_config.normalise(errors, "config", spec["config"])
    else:
        add_error(
            errors,
            "architecture",
            "give a catalog architecture name or an inline config",
        )
    return architecture, config


def _dtype(errors: Errors, dtype: Any) -> Any:
    # Required, with no default: an unstated dtype is the classic benchmarking trap (a model
    # built from a config silently runs in float32).
    dtypes = model_config.DTYPE_BYTES
    if dtype is None:
        add_error(errors, "dtype", f"is required: one of {', '.join(dtypes)}")
    elif dtype not in dtypes:
        add_error(errors, "dtype", f"must be one of {', '.join(dtypes)}, got {dtype!r}")
    return dtype


def _attention(errors: Errors, attn: Any) -> Any:
    if attn not in ATTN_IMPLEMENTATIONS:
        add_error(
            errors,
            "attn_implementation",
            f"must be one of {', '.join(ATTN_IMPLEMENTATIONS)}",
        )
    return attn


def _lengths(errors: Errors, spec: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(prompt, output) length distributions, both required."""
    prompt = output = None
    for key in ("prompt_tokens", "output_tokens"):
        if key not in spec:
            add_error(errors, key, "is required")
    if "prompt_tokens" in spec:
        prompt = lengths.normalise(errors, "prompt_tokens", spec["prompt_tokens"])
    if "output_tokens" in spec:
        output = lengths.normalise(errors, "output_tokens", spec["output_tokens"])
    return prompt, output


def _levels(errors: Errors, conc: Any) -> list[int]:
    """The concurrency levels, distinct, in the order given."""
    levels: list[int] = []
    if conc is None:
        add_error(errors, "concurrency", "is required (a list of concurrency levels)")
    elif is_int(conc):
        add_error(errors, "concurrency", "must be a list of levels, e.g. [1, 4]")
    elif not isinstance(conc, list) or not conc:
        add_error(errors, "concurrency", "must be a non-empty list of integers")
    elif len(conc) > MAX_LEVELS:
        add_error(errors, "concurrency", f"at most {MAX_LEVELS} levels")
    else:
        for i, level in enumerate(conc):
            n = int_in(errors, f"concurrency[{i}]", level, 1, MAX_CONCURRENCY)
            if n is not None:
                if n in levels:
                    add_error(errors, f"concurrency[{i}]", f"level {n} is listed twice")
                else:
                    levels.append(n)
    return levels


def _arrival(errors: Errors, arrival: Any) -> dict[str, Any]:
    """The arrival process, normalised (only the closed loop today)."""
    if not isinstance(arrival, dict) or arrival.get("kind") not in ARRIVAL_KINDS:
        add_error(
            errors,
            "arrival.kind",
            "only 'closed' is supported: each batch of `concurrency` requests starts when the "
            "previous batch has finished (static batching has no slot for an open-loop arrival)",
        )
    elif set(arrival) - {"kind"}:
        add_error(errors, f"arrival.{sorted(set(arrival) - {'kind'})[0]}", "unknown field")
    return {"kind": "closed"}


def _batching(errors: Errors, batching: Any) -> Any:
    if batching not in BATCHING_MODES:
        add_error(errors, "batching", f"must be one of {', '.join(BATCHING_MODES)}")
    return batching


def _check_context(errors: Errors, config: dict[str, Any], prompt: dict[str, Any], output: dict[str, Any]) -> None:
    longest = lengths.bounds(prompt)[1] + lengths.bounds(output)[1]
    limit = model_config.max_context(config)
    if longest > limit:
        add_error(
            errors,
            "output_tokens",
            f"the longest request ({longest} tokens, prompt + output) exceeds the model's context of {limit} positions",
        )


def _check_recorded_tokens(errors: Errors, output: dict[str, Any], requests: int, levels: list[int]) -> None:
    recorded = lengths.bounds(output)[1] * requests * len(levels)
    if recorded > MAX_RECORDED_TOKENS:
        add_error(
            errors,
            "requests",
            f"up to {recorded} output tokens would be timed (max output x requests x levels); "
            f"the limit is {MAX_RECORDED_TOKENS}",
        )
