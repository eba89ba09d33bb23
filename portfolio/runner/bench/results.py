"""The results upload: measurements a learner made elsewhere, its JSON Schema and its validator.

Standard library only (the web app validates and publishes it; `uploads.recompute_upload`
validates with `validate_results` before recomputing the numbers). The names follow vLLM's
`vllm bench serve` files so a learner can paste theirs.
"""

from __future__ import annotations

from typing import Any

from . import checks, lengths
from .checks import Errors, add_error, int_in, is_int, is_number

RESULTS_VERSION = "1"

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
    "arrival_times": "number",
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
                "prompt_tokens": lengths.SCHEMA,
                "output_tokens": lengths.SCHEMA,
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
                "slo": checks.SLO_SCHEMA,
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
                "arrival_times": {
                    "type": "array",
                    "items": {"type": "number"},
                    "description": (
                        "When each request was scheduled to arrive (s, the clock of start_times; open-loop "
                        "load). With it, latencies are also recomputed from the arrival, queueing included."
                    ),
                },
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


def validate_results(doc: Any) -> tuple[dict[str, Any] | None, list[dict[str, str]]]:
    """Check a results upload; return (normalised document, []) or (None, errors).

    Every workload field is required, and each missing one is reported by name: numbers
    without the workload that produced them cannot be compared with anything.
    """
    errors: Errors = []
    if not isinstance(doc, dict):
        return None, [{"path": "", "message": "the upload must be a JSON object"}]
    for key in sorted(set(doc) - set(RESULTS_SCHEMA["properties"])):
        add_error(errors, key, "unknown field")
    if doc.get("results_version", RESULTS_VERSION) != RESULTS_VERSION:
        add_error(errors, "results_version", f"must be {RESULTS_VERSION!r}")

    workload_in = doc.get("workload")
    workload: dict[str, Any] = {}
    if not isinstance(workload_in, dict):
        add_error(errors, "workload", "is required: an object describing what was measured")
        workload_in = {}
    allowed = set(RESULTS_SCHEMA["properties"]["workload"]["properties"])
    for key in sorted(set(workload_in) - allowed):
        add_error(errors, f"workload.{key}", "unknown field")
    for key, meaning in RESULTS_WORKLOAD_FIELDS.items():
        if key not in workload_in or workload_in[key] in (None, ""):
            add_error(errors, f"workload.{key}", f"is required: {meaning}")
            continue
        value = workload_in[key]
        path = f"workload.{key}"
        if key in ("prompt_tokens", "output_tokens"):
            workload[key] = lengths.normalise(errors, path, value)
        elif key == "concurrency":
            workload[key] = int_in(errors, path, value, 1, 10**6)
        elif key == "num_requests":
            workload[key] = int_in(errors, path, value, 1, 10**7)
        elif not isinstance(value, str):
            add_error(errors, path, "must be a string")
        else:
            workload[key] = value
    if "request_rate" in workload_in:
        rate = workload_in["request_rate"]
        if rate != "inf" and (not is_number(rate) or rate <= 0):
            add_error(errors, "workload.request_rate", "must be a positive number or 'inf'")
        else:
            workload["request_rate"] = rate
    for key, typ in (("ignore_eos", bool), ("notes", str)):
        if key in workload_in:
            if not isinstance(workload_in[key], typ):
                add_error(errors, f"workload.{key}", f"must be a {typ.__name__}")
            else:
                workload[key] = workload_in[key]
    if "seed" in workload_in:
        if not is_int(workload_in["seed"]):
            add_error(errors, "workload.seed", "must be an integer")
        else:
            workload["seed"] = workload_in["seed"]
    workload["slo"] = checks.slo(errors, "workload.slo", workload_in.get("slo"))

    claimed_in = doc.get("claimed")
    claimed: dict[str, float] = {}
    if not isinstance(claimed_in, dict) or not claimed_in:
        add_error(errors, "claimed", "is required: at least one summary number you measured")
    else:
        for key, value in claimed_in.items():
            if key not in CLAIM_KEYS:
                add_error(
                    errors,
                    f"claimed.{key}",
                    "unknown metric name (use vLLM's names, e.g. mean_ttft_ms, p99_tpot_ms, output_throughput)",
                )
            elif not is_number(value) or value < 0:
                add_error(errors, f"claimed.{key}", "must be a non-negative number")
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


def _validate_raw(errors: Errors, raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        add_error(errors, "raw", "must be an object of per-request arrays")
        return None
    for key in sorted(set(raw) - {*RAW_ARRAYS, "duration"}):
        add_error(errors, f"raw.{key}", "unknown field")
    for key in RAW_REQUIRED:
        if key not in raw:
            add_error(errors, f"raw.{key}", "is required when raw arrays are uploaded")
    n = None
    out: dict[str, Any] = {}
    before = len(errors)
    for key, kind in RAW_ARRAYS.items():
        if key not in raw:
            continue
        values = raw[key]
        path = f"raw.{key}"
        if not isinstance(values, list):
            add_error(errors, path, "must be a list with one entry per request")
            continue
        if n is None:
            n = len(values)
        elif len(values) != n:
            add_error(errors, path, f"has {len(values)} entries; the other arrays have {n}")
            continue
        for i, v in enumerate(values):
            if kind == "number" and not is_number(v):
                add_error(errors, f"{path}[{i}]", "must be a number (seconds)")
                break
            if kind == "integer" and (not is_int(v) or v < 0):
                add_error(errors, f"{path}[{i}]", "must be a non-negative integer")
                break
            if kind == "string" and v is not None and not isinstance(v, str):
                add_error(errors, f"{path}[{i}]", "must be a string ('' or null for success)")
                break
            if kind == "array" and (not isinstance(v, list) or not all(is_number(x) for x in v)):
                add_error(errors, f"{path}[{i}]", "must be a list of numbers (seconds)")
                break
        out[key] = values
    if "duration" in raw:
        if not is_number(raw["duration"]) or raw["duration"] <= 0:
            add_error(errors, "raw.duration", "must be a positive number of seconds")
        else:
            out["duration"] = float(raw["duration"])
    if "arrival_times" in out:
        if "start_times" not in out:
            add_error(errors, "raw.arrival_times", "needs raw.start_times (when each request was actually sent)")
        else:
            late = [
                i for i, (a, st) in enumerate(zip(out["arrival_times"], out["start_times"], strict=False)) if a > st
            ]
            if late:
                add_error(
                    errors,
                    f"raw.arrival_times[{late[0]}]",
                    "is after the request's start time: a request cannot be sent before it arrives",
                )
    if "duration" not in out and "start_times" not in out:
        add_error(
            errors,
            "raw.start_times",
            "is required when raw.duration is not given (throughput needs a duration)",
        )
    if len(errors) > before:
        return None
    return out
