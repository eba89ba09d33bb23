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

# Batching modes and arrival processes. They are fields of the spec so that a stored spec says
# what was run; a spec without them means what it always meant (static, closed loop).
# static: batches run to their longest request, newcomers wait for the whole batch.
# continuous: iteration-level scheduling, requests join and leave between decode steps.
BATCHING_MODES = ("static", "continuous")
# closed: N requests in flight, a request is sent when one finishes. The others are open loop:
# requests arrive on a schedule whatever the engine is doing (constant rate, Poisson, or gamma
# with vLLM's burstiness: shape = burstiness, scale = 1 / (rate x burstiness), so 1 is Poisson).
ARRIVAL_KINDS = ("closed", "constant", "poisson", "gamma")
OPEN_LOOP_KINDS = ARRIVAL_KINDS[1:]
ATTN_IMPLEMENTATIONS = ("sdpa", "eager")
ENGINE_CACHES = ("dynamic", "static")

MAX_RATE = 10_000.0
MAX_SWEEP_POINTS = 12
MAX_SEARCH_STEPS = 6
MAX_TRIALS = 10
SLA_PERCENTILES = (50, 90, 95, 99)

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
            "description": (
                "closed: `concurrency` requests in flight (static batching: a batch starts when the previous one "
                "has finished; continuous: a request is sent when one finishes). constant, poisson, gamma: open "
                "loop at `rate` requests/s whatever the engine is doing; latency counts from each request's "
                "scheduled arrival, so queueing shows. Give `concurrency` only for closed loop."
            ),
            "properties": {
                "kind": {"enum": list(ARRIVAL_KINDS)},
                "rate": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "maximum": MAX_RATE,
                    "description": "Open loop: requests per second (or give `sweep`).",
                },
                "burstiness": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "description": "gamma only: vLLM's burstiness factor, the gamma shape; 1 is Poisson, below 1 burstier.",
                },
                "max_concurrency": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_CONCURRENCY,
                    "description": "Open loop: at most this many requests in flight (the engine's batch); the rest queue.",
                },
                "seed": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 2**32 - 1,
                    "description": "Seed of the arrival times (default: the spec's seed).",
                },
                "ramp_up_requests": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": MAX_WARMUP_REQUESTS,
                    "default": 0,
                    "description": "The first requests of each level, run but left out of the statistics while the system fills.",
                },
            },
            "required": ["kind"],
            "additionalProperties": False,
            "default": {"kind": "closed"},
        },
        "batching": {
            "enum": list(BATCHING_MODES),
            "default": "static",
            "description": (
                "static: a batch runs until its longest request is done, newcomers wait for it. continuous: "
                "requests join the running batch between decode steps and leave when done."
            ),
        },
        "sweep": {
            "type": "object",
            "description": (
                "Open loop: run several rates. `rates` lists them; `points` asks for that many from one request "
                "at a time to saturation (both measured first)."
            ),
            "properties": {
                "rates": {
                    "type": "array",
                    "items": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_RATE},
                    "minItems": 1,
                    "maxItems": MAX_SWEEP_POINTS,
                },
                "points": {"type": "integer", "minimum": 2, "maximum": MAX_SWEEP_POINTS},
            },
            "additionalProperties": False,
        },
        "sla": {
            "type": "object",
            "description": (
                "With a sweep: the highest rate whose percentile TTFT and TPOT meet these limits is searched for "
                "(bisection between the sweep's highest passing and lowest failing rate, `search_steps` runs)."
            ),
            "properties": {
                "ttft_ms": {"type": "number", "exclusiveMinimum": 0},
                "tpot_ms": {"type": "number", "exclusiveMinimum": 0},
                "percentile": {"enum": list(SLA_PERCENTILES), "default": 99},
                "search_steps": {"type": "integer", "minimum": 0, "maximum": MAX_SEARCH_STEPS, "default": 2},
            },
            "additionalProperties": False,
        },
        "trials": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_TRIALS,
            "default": 1,
            "description": "Run every level this many times; the page shows the spread between trials.",
        },
        "engine": {
            "type": "object",
            "description": (
                "cache static + compile: a preallocated cache and torch.compile of the decode step (CUDA graphs on "
                "a GPU); static batching only, recorded in the environment."
            ),
            "properties": {
                "cache": {"enum": list(ENGINE_CACHES), "default": "dynamic"},
                "compile": {"type": "boolean", "default": False},
            },
            "additionalProperties": False,
        },
    },
    "required": ["dtype", "prompt_tokens", "output_tokens", "requests"],
    "oneOf": [{"required": ["architecture"]}, {"required": ["config"]}],
    "additionalProperties": False,
}

# 100 measured requests per level: the fewest for which a p99 is a percentile and not the maximum
# (stats.min_samples(99) == 100), so every figure the example's run page shows means what it says.
# 16 output tokens keep the whole run to seconds on a CPU runner.
EXAMPLE_SPEC: dict[str, Any] = {
    "architecture": "tiny-llama",
    "dtype": "float32",
    "prompt_tokens": {"kind": "uniform", "min": 16, "max": 64},
    "output_tokens": 16,
    "concurrency": [1, 4],
    "requests": 100,
    "warmup_requests": 2,
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
    arrival = _arrival(errors, spec.get("arrival", {"kind": "closed"}), seed)
    levels = _levels(errors, spec.get("concurrency"), arrival, requests)
    batching = _batching(errors, spec.get("batching", "static"))
    sweep = _sweep(errors, spec.get("sweep"), arrival)
    sla = _sla(errors, spec.get("sla"), sweep)
    trials = int_in(errors, "trials", spec.get("trials", 1), 1, MAX_TRIALS)
    engine = _engine(errors, spec.get("engine"), batching)

    if config is not None and prompt is not None and output is not None:
        _check_context(errors, config, prompt, output)
    if output is not None and requests is not None and levels and trials:
        _check_recorded_tokens(errors, output, requests, len(levels) * runs_per_level(sweep, sla) * trials)

    if errors:
        return None, errors
    assert config is not None and prompt is not None and output is not None
    normalised: dict[str, Any] = {
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
    }
    # The newer fields only when they say something, so that an old spec normalises to exactly
    # what it did before (stored runs compare their spec with a re-validation).
    for key, value, default in (
        ("sweep", sweep, None),
        ("sla", sla, None),
        ("trials", trials, 1),
        ("engine", engine, DEFAULT_ENGINE),
    ):
        if value != default:
            normalised[key] = value
    return normalised, []


DEFAULT_ENGINE = {"cache": "dynamic", "compile": False}


def is_open_loop(spec: dict[str, Any]) -> bool:
    return spec["arrival"]["kind"] in OPEN_LOOP_KINDS


def runs_per_level(sweep: dict[str, Any] | None, sla: dict[str, Any] | None) -> int:
    """How many runs of the requests one level stands for: a sweep's points (+ 2 measured ends) and its search."""
    if sweep is None:
        return 1
    points = len(sweep["rates"]) if "rates" in sweep else sweep["points"] + 2
    return points + (sla["search_steps"] if sla else 0)


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


def _levels(errors: Errors, conc: Any, arrival: dict[str, Any], requests: int | None) -> list[int]:
    """The concurrency levels, distinct, in the order given.

    Closed loop: the list given (required). Open loop: one level, the cap on requests in flight
    (arrival.max_concurrency, else every request of the level may be in flight at once).
    """
    levels: list[int] = []
    if arrival["kind"] in OPEN_LOOP_KINDS:
        if conc is not None:
            add_error(
                errors,
                "concurrency",
                "give concurrency levels only with a closed-loop arrival; an open loop is set by arrival.rate "
                "(or sweep) and capped by arrival.max_concurrency",
            )
        return [arrival.get("max_concurrency") or requests or 1]
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


def _positive(errors: Errors, path: str, value: Any, high: float) -> float | None:
    if not checks.is_number(value) or not 0 < float(value) <= high:
        add_error(errors, path, f"must be a number above 0 and at most {high:g}")
        return None
    return float(value)


def _arrival(errors: Errors, arrival: Any, seed: int | None) -> dict[str, Any]:
    """The arrival process, normalised: closed stays {"kind": "closed"}; open loop spells out its fields."""
    if not isinstance(arrival, dict) or arrival.get("kind") not in ARRIVAL_KINDS:
        add_error(errors, "arrival.kind", f"must be one of {', '.join(ARRIVAL_KINDS)}")
        return {"kind": "closed"}
    kind = arrival["kind"]
    allowed = {"kind"} if kind == "closed" else set(SPEC_SCHEMA["properties"]["arrival"]["properties"])
    if kind != "gamma":
        allowed.discard("burstiness")
    for key in sorted(set(arrival) - allowed):
        known = key in SPEC_SCHEMA["properties"]["arrival"]["properties"]
        add_error(errors, f"arrival.{key}", f"does not apply to a {kind} arrival" if known else "unknown field")
    if kind == "closed":
        return {"kind": "closed"}
    out: dict[str, Any] = {"kind": kind}
    if "rate" in arrival:
        out["rate"] = _positive(errors, "arrival.rate", arrival["rate"], MAX_RATE)
    if kind == "gamma":
        if "burstiness" not in arrival:
            add_error(errors, "arrival.burstiness", "is required for a gamma arrival (1 is Poisson, below 1 burstier)")
        else:
            out["burstiness"] = _positive(errors, "arrival.burstiness", arrival["burstiness"], 1000.0)
    out["max_concurrency"] = (
        int_in(errors, "arrival.max_concurrency", arrival["max_concurrency"], 1, MAX_CONCURRENCY)
        if "max_concurrency" in arrival
        else None
    )
    out["seed"] = int_in(errors, "arrival.seed", arrival.get("seed", seed or 0), 0, 2**32 - 1)
    out["ramp_up_requests"] = int_in(
        errors, "arrival.ramp_up_requests", arrival.get("ramp_up_requests", 0), 0, MAX_WARMUP_REQUESTS
    )
    return out


def _batching(errors: Errors, batching: Any) -> Any:
    if batching not in BATCHING_MODES:
        add_error(errors, "batching", f"must be one of {', '.join(BATCHING_MODES)}")
    return batching


def _sweep(errors: Errors, sweep: Any, arrival: dict[str, Any]) -> dict[str, Any] | None:
    """A rate sweep (open loop only), or None; without one an open loop needs arrival.rate."""
    open_loop = arrival["kind"] in OPEN_LOOP_KINDS
    if sweep is None:
        if open_loop and "rate" not in arrival:
            add_error(errors, "arrival.rate", f"is required for a {arrival['kind']} arrival (or give a sweep)")
        return None
    if not open_loop:
        add_error(
            errors, "sweep", "a sweep varies the arrival rate: use an open-loop arrival (constant, poisson, gamma)"
        )
        return None
    if not isinstance(sweep, dict) or len(set(sweep) & {"rates", "points"}) != 1:
        add_error(errors, "sweep", "must be an object with either rates (a list) or points (a number)")
        return None
    for key in sorted(set(sweep) - {"rates", "points"}):
        add_error(errors, f"sweep.{key}", "unknown field")
    if "rate" in arrival:
        add_error(errors, "arrival.rate", "give arrival.rate or a sweep, not both")
    if "points" in sweep:
        points = int_in(errors, "sweep.points", sweep["points"], 2, MAX_SWEEP_POINTS)
        return {"points": points} if points is not None else None
    rates = sweep["rates"]
    if not isinstance(rates, list) or not 1 <= len(rates) <= MAX_SWEEP_POINTS:
        add_error(errors, "sweep.rates", f"must be a list of 1 to {MAX_SWEEP_POINTS} rates (requests/s)")
        return None
    out = [_positive(errors, f"sweep.rates[{i}]", r, MAX_RATE) for i, r in enumerate(rates)]
    if len(set(out)) != len(out):
        add_error(errors, "sweep.rates", "lists a rate twice")
    return {"rates": sorted(r for r in out if r is not None)}


def _sla(errors: Errors, sla: Any, sweep: dict[str, Any] | None) -> dict[str, Any] | None:
    if sla is None:
        return None
    if sweep is None:
        add_error(errors, "sla", "the SLA question (the highest rate that meets it) needs a sweep")
        return None
    if not isinstance(sla, dict):
        add_error(errors, "sla", "must be an object with ttft_ms and/or tpot_ms")
        return None
    for key in sorted(set(sla) - {"ttft_ms", "tpot_ms", "percentile", "search_steps"}):
        add_error(errors, f"sla.{key}", "unknown field; use ttft_ms, tpot_ms, percentile, search_steps")
    out: dict[str, Any] = {}
    for key in ("ttft_ms", "tpot_ms"):
        if key in sla:
            out[key] = _positive(errors, f"sla.{key}", sla[key], 1e9)
    if not out:
        add_error(errors, "sla.ttft_ms", "give ttft_ms and/or tpot_ms (milliseconds)")
    percentile = sla.get("percentile", 99)
    if percentile not in SLA_PERCENTILES:
        add_error(errors, "sla.percentile", f"must be one of {', '.join(map(str, SLA_PERCENTILES))}")
    out["percentile"] = percentile
    out["search_steps"] = int_in(errors, "sla.search_steps", sla.get("search_steps", 2), 0, MAX_SEARCH_STEPS)
    return out


def _engine(errors: Errors, engine: Any, batching: Any) -> dict[str, Any]:
    if engine is None:
        return dict(DEFAULT_ENGINE)
    if not isinstance(engine, dict):
        add_error(errors, "engine", "must be an object with cache and compile")
        return dict(DEFAULT_ENGINE)
    for key in sorted(set(engine) - {"cache", "compile"}):
        add_error(errors, f"engine.{key}", "unknown field; use cache, compile")
    cache = engine.get("cache", "dynamic")
    if cache not in ENGINE_CACHES:
        add_error(errors, "engine.cache", f"must be one of {', '.join(ENGINE_CACHES)}")
    compiled = engine.get("compile", False)
    if not isinstance(compiled, bool):
        add_error(errors, "engine.compile", "must be true or false")
    elif compiled and cache != "static":
        add_error(errors, "engine.compile", "compiling the decode step needs fixed shapes: set engine.cache to static")
    if (cache == "static" or compiled is True) and batching == "continuous":
        add_error(
            errors,
            "engine.cache",
            "a static cache has one fixed batch; continuous batching changes the batch every step: use batching static",
        )
    return {"cache": cache, "compile": compiled}


def _check_context(errors: Errors, config: dict[str, Any], prompt: dict[str, Any], output: dict[str, Any]) -> None:
    longest = lengths.bounds(prompt)[1] + lengths.bounds(output)[1]
    limit = model_config.max_context(config)
    if longest > limit:
        add_error(
            errors,
            "output_tokens",
            f"the longest request ({longest} tokens, prompt + output) exceeds the model's context of {limit} positions",
        )


def _check_recorded_tokens(errors: Errors, output: dict[str, Any], requests: int, runs: int) -> None:
    recorded = lengths.bounds(output)[1] * requests * runs
    if recorded > MAX_RECORDED_TOKENS:
        add_error(
            errors,
            "requests",
            f"up to {recorded} output tokens would be timed (max output x requests x levels, sweep points and trials); "
            f"the limit is {MAX_RECORDED_TOKENS}",
        )
