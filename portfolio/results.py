"""Published JSON schemas for self-reported results, one per kind of spec, and their validation.

| schema                 | for                                   | checks                                               |
|------------------------|---------------------------------------|------------------------------------------------------|
| inference-benchmark    | 07 Inference Benchmark Suite          | bench.results (workload required), recomputation     |
| serving-engine-matrix  | 08 Serving Engine Matrix              | one benchmark result per engine, each recomputed     |
| quantization-benchmark | 10 Quantization Benchmark             | one benchmark result per variant, each recomputed    |
| reasoning-eval         | 06 Reasoning Eval Harness             | per-question rows                                    |
| generic                | everything else, and free-form        | a summary and named numbers                          |

Benchmark-like results are refused without their workload definition (model, dtype, hardware,
engine, engine_version, prompt_tokens, output_tokens, concurrency, num_requests), and one message
names every missing field. The benchmark documents are validated and recomputed by the runner's
stdlib `bench.results` / `bench.uploads` (the same definitions the harness uses); the other schemas
by the small JSON Schema subset interpreter below, so what we publish is exactly what we check.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from portfolio.runner import jsondoc
from portfolio.runner.bench import results as bench_results
from portfolio.runner.bench import uploads as bench_uploads

SCHEMA_VERSION = "1"

Errors = list[dict[str, str]]


class ResultsInvalid(ValueError):
    """A refused document. `errors` are {"path", "message"}; `message` is one paragraph for people."""

    def __init__(self, errors: Errors) -> None:
        self.errors = errors
        self.message = describe(errors)
        super().__init__(self.message)


@dataclass(frozen=True)
class Checked:
    schema: str
    schema_version: str
    validation: dict[str, Any]
    recomputation: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ResultsSchema:
    name: str
    title: str
    description: str
    json_schema: dict[str, Any]
    check: Callable[[Any], Checked]
    example: dict[str, Any]
    version: str = SCHEMA_VERSION

    def published(self) -> dict[str, Any]:
        return {
            "$id": f"layerwise:results/{self.name}/v{self.version}",
            **self.json_schema,
            "title": self.title,
            "description": self.description,
            "examples": [self.example],
        }


def canonical_sha256(document: Any) -> str:
    """The identity of a results document: SHA-256 of its canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def describe(errors: Errors) -> str:
    """One message: every missing workload field named together, then the other problems."""
    missing: dict[str, list[str]] = {}
    other = []
    for error in errors:
        path = error["path"]
        head, _, name = path.rpartition(".")
        if error["message"].startswith("is required") and (head == "workload" or head.endswith(".workload")):
            missing.setdefault(head, []).append(name)
        else:
            other.append(f"{path or 'document'}: {error['message']}")
    parts = []
    for where, names in missing.items():
        prefix = "The workload" if where == "workload" else f"{where.removesuffix('.workload')}: the workload"
        parts.append(
            f"{prefix} definition is missing {', '.join(names)}. A benchmark result without "
            f"the workload that produced it cannot be compared with anything; add these fields under "
            f'"{where}".'
        )
    if other:
        parts.append("; ".join(other[:20]) + (f" (and {len(other) - 20} more)" if len(other) > 20 else "") + ".")
    return " ".join(parts) or "The document is not valid."


# --- a small JSON Schema subset interpreter ----------------------------------------------------

_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v),
}


def validate(schema: dict[str, Any], value: Any, path: str = "") -> Errors:
    """Check `value` against the keywords these schemas use: type, enum, const, properties,
    required, additionalProperties, minProperties, items, minItems, maxItems, minLength,
    maxLength, minimum, exclusiveMinimum, maximum. Errors carry dotted paths (list items as [i])."""
    errors: Errors = []
    _check(schema, value, path, errors)
    return errors


def _check(schema: dict[str, Any], value: Any, path: str, errors: Errors) -> None:
    def err(message: str) -> None:
        errors.append({"path": path, "message": message})

    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_TYPES[name](value) for name in names):
            err(f"must be {' or '.join(_article(n) for n in names)}")
            return
    if "enum" in schema and value not in schema["enum"]:
        err(f"must be one of {', '.join(json.dumps(v) for v in schema['enum'])}")
    if "const" in schema and value != schema["const"]:
        err(f"must be {json.dumps(schema['const'])}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                errors.append({"path": _join(path, name), "message": _required(props.get(name, {}))})
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in props:
                _check(props[name], item, _join(path, name), errors)
            elif extra is False:
                errors.append({"path": _join(path, name), "message": "unknown field"})
            elif isinstance(extra, dict):
                _check(extra, item, _join(path, name), errors)
        if len(value) < schema.get("minProperties", 0):
            err(f"needs at least {schema['minProperties']} entr{'y' if schema['minProperties'] == 1 else 'ies'}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            err(f"needs at least {schema['minItems']} item{'s' if schema['minItems'] != 1 else ''}")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            err(f"has {len(value)} items; at most {schema['maxItems']} are allowed")
        if "items" in schema:
            for i, item in enumerate(value):
                _check(schema["items"], item, f"{path}[{i}]", errors)
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            err("must not be empty" if schema["minLength"] == 1 else f"needs at least {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            err(f"is longer than {schema['maxLength']} characters")
    if _TYPES["number"](value):
        if "minimum" in schema and value < schema["minimum"]:
            err(f"must be at least {schema['minimum']}")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            err(f"must be greater than {schema['exclusiveMinimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            err(f"must be at most {schema['maximum']}")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _article(type_name: str) -> str:
    return {"object": "an object", "array": "a list", "integer": "an integer", "null": "null"}.get(
        type_name, f"a {type_name}"
    )


def _required(schema: dict[str, Any]) -> str:
    meaning = schema.get("description")
    return f"is required: {meaning}" if meaning else "is required"


def _jsonable(value: Any) -> Any:
    """PostgreSQL's jsonb refuses NaN and infinities; recomputed ratios can produce them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


# --- benchmark-like documents ----------------------------------------------------------------

WORKLOAD_FIELDS = tuple(bench_results.RESULTS_WORKLOAD_FIELDS)
_BENCH_KEYS = ("workload", "claimed", "raw")


def _recompute(document: dict[str, Any], prefix: str) -> tuple[dict[str, Any] | None, Errors]:
    """Validate one benchmark result with bench.results and recompute it; errors prefixed with `prefix`."""
    outcome = bench_uploads.recompute_upload(document)
    if not outcome["valid"]:
        return None, [{"path": _join(prefix, e["path"]), "message": e["message"]} for e in outcome["errors"]]
    return _jsonable(outcome), []


def _check_inference_benchmark(document: Any) -> Checked:
    outcome, errors = _recompute(document, "")
    if errors:
        raise ResultsInvalid(errors)
    assert outcome is not None
    return Checked(
        schema="inference-benchmark",
        schema_version=SCHEMA_VERSION,
        validation={
            "valid": True,
            "workload": document["workload"],
            "checked": ["workload definition", "claimed metric names", "raw per-request arrays"],
        },
        recomputation=outcome,
    )


def _entries_schema(extra: dict[str, Any], required_extra: list[str]) -> dict[str, Any]:
    workload = bench_results.RESULTS_SCHEMA["properties"]["workload"]
    return {
        "type": "object",
        "properties": {
            "results_version": {"const": SCHEMA_VERSION},
            "workload": {
                **{k: v for k, v in workload.items() if k != "required"},
                "description": "Fields shared by every entry; an entry's own workload adds to and overrides it. "
                f"Each entry's merged workload must give all of: {', '.join(WORKLOAD_FIELDS)}.",
            },
            "entries": {
                "type": "array",
                "minItems": 1,
                "maxItems": 64,
                "items": {
                    "type": "object",
                    "properties": {
                        "label": {"type": "string", "minLength": 1, "maxLength": 200},
                        "workload": {**{k: v for k, v in workload.items() if k != "required"}},
                        "claimed": bench_results.RESULTS_SCHEMA["properties"]["claimed"],
                        "raw": bench_results.RESULTS_SCHEMA["properties"]["raw"],
                        **extra,
                    },
                    "required": ["label", "claimed", *required_extra],
                    "additionalProperties": False,
                },
            },
            "recommendation": {"type": "string", "maxLength": 5000},
        },
        "required": ["entries"],
        "additionalProperties": False,
    }


def _entries_checker(name: str, json_schema: dict[str, Any]) -> Callable[[Any], Checked]:
    """08 and 10: several benchmark results, one per engine or variant, each validated and
    recomputed like a 07 upload after merging the shared workload into its own."""
    entry = json_schema["properties"]["entries"]["items"]
    own_props = {k: v for k, v in entry["properties"].items() if k not in _BENCH_KEYS}
    own_schema = {"properties": own_props, "required": [r for r in entry["required"] if r in own_props]}
    top = {
        **json_schema,
        "properties": {
            **json_schema["properties"],
            "workload": {"type": "object"},
            "entries": {"type": "array", "minItems": 1, "maxItems": 64, "items": {"type": "object"}},
        },
    }

    def check(document: Any) -> Checked:
        errors = validate(top, document)
        if errors:
            raise ResultsInvalid(errors)
        shared = document.get("workload", {})
        recomputed = []
        for i, item in enumerate(document["entries"]):
            where = f"entries[{i}]"
            errors += [
                {"path": f"{where}.{key}", "message": "unknown field"}
                for key in sorted(set(item) - set(entry["properties"]))
            ]
            errors += validate(own_schema, {k: v for k, v in item.items() if k in own_props}, where)
            own_workload = item.get("workload", {})
            if not isinstance(own_workload, dict):
                errors.append({"path": f"{where}.workload", "message": "must be an object"})
                continue
            bench_doc = {
                "workload": {**shared, **own_workload},
                **{k: item[k] for k in ("claimed", "raw") if k in item},
            }
            outcome, bench_errors = _recompute(bench_doc, where)
            errors += bench_errors
            if outcome is not None:
                recomputed.append({"label": item.get("label"), **outcome})
        if errors:
            raise ResultsInvalid(errors)
        return Checked(
            schema=name,
            schema_version=SCHEMA_VERSION,
            validation={
                "valid": True,
                "entries": len(document["entries"]),
                "checked": ["workload definition of every entry", "claimed metric names", "raw per-request arrays"],
            },
            recomputation={
                "entries": recomputed,
                "flagged": [dict(f, entry=r["label"]) for r in recomputed for f in r.get("flagged", [])],
            },
        )

    return check


def _plain_checker(name: str, json_schema: dict[str, Any]) -> Callable[[Any], Checked]:
    def check(document: Any) -> Checked:
        errors = validate(json_schema, document)
        if errors:
            raise ResultsInvalid(errors)
        return Checked(schema=name, schema_version=SCHEMA_VERSION, validation={"valid": True})

    return check


_EXAMPLE_WORKLOAD = {
    "model": "meta-llama/Llama-3.1-8B-Instruct",
    "dtype": "bfloat16",
    "hardware": "1x NVIDIA H100 80GB SXM",
    "engine": "vllm",
    "engine_version": "0.11.0",
    "prompt_tokens": 512,
    "output_tokens": 4,
    "concurrency": 2,
    "num_requests": 2,
}
_EXAMPLE_RAW = {
    "start_times": [0.0, 0.01],
    "ttfts": [0.05, 0.06],
    "itls": [[0.01, 0.01, 0.01], [0.01, 0.01, 0.01]],
    "latencies": [0.08, 0.09],
    "output_lens": [4, 4],
    "input_lens": [512, 512],
}

ENGINE_MATRIX_SCHEMA = _entries_schema(
    {
        "features": {
            "type": "object",
            "description": "Feature support for your model: quantization format, structured output, LoRA, "
            "prefix caching, multi-GPU... (true, false or a short note).",
            "additionalProperties": {"type": ["boolean", "string"]},
        },
        "peak_memory_gib": {"type": "number", "minimum": 0},
        "setup_notes": {"type": "string", "maxLength": 5000},
    },
    [],
)
QUANTIZATION_SCHEMA = _entries_schema(
    {
        "variant": {
            "type": "object",
            "description": "What was quantized and how.",
            "properties": {
                "method": {"type": "string", "minLength": 1, "description": "e.g. fp16, int8, gptq, awq, gguf-q4_k_m"},
                "bits": {"type": "number", "exclusiveMinimum": 0},
                "group_size": {"type": "integer", "minimum": 1},
                "calibration": {"type": "string"},
                "quantized": {"type": "string", "description": "weights, activations, KV cache..."},
            },
            "required": ["method", "bits"],
            "additionalProperties": False,
        },
        "quality": {
            "type": "object",
            "description": "Task quality numbers, named by you (accuracy, format validity, faithfulness...).",
            "additionalProperties": {"type": "number"},
            "minProperties": 1,
        },
        "peak_memory_gib": {"type": "number", "minimum": 0},
    },
    ["variant", "quality"],
)
REASONING_EVAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "results_version": {"const": SCHEMA_VERSION},
        "setup": {
            "type": "object",
            "description": "Which model or mode each path used, and the settings.",
            "properties": {
                "paths": {"type": "object", "additionalProperties": {"type": "string"}, "minProperties": 1},
                "settings": {"type": "string"},
            },
            "required": ["paths"],
            "additionalProperties": False,
        },
        "questions": {
            "type": "array",
            "minItems": 1,
            "maxItems": 100000,
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": ["string", "integer"]},
                    "category": {"type": "string", "minLength": 1},
                    "path": {"type": "string", "minLength": 1},
                    "correct": {"type": "boolean"},
                    "latency_s": {"type": "number", "minimum": 0},
                    "output_tokens": {"type": "integer", "minimum": 0},
                    "cost_usd": {"type": "number", "minimum": 0},
                    "failure_mode": {"type": "string"},
                },
                "required": ["id", "category", "path", "correct", "latency_s", "output_tokens"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["setup", "questions"],
    "additionalProperties": False,
}
GENERIC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "results_version": {"const": SCHEMA_VERSION},
        "summary": {"type": "string", "minLength": 1, "maxLength": 5000, "description": "what was measured, and how"},
        "setup": {
            "type": "object",
            "description": "hardware, software versions, settings: anything that fixes the numbers",
        },
        "metrics": {
            "type": "object",
            "description": "named numbers",
            "additionalProperties": {"type": "number"},
            "minProperties": 1,
        },
    },
    "required": ["summary", "metrics"],
    "additionalProperties": False,
}

SCHEMAS: dict[str, ResultsSchema] = {
    s.name: s
    for s in (
        ResultsSchema(
            name="inference-benchmark",
            title="Inference benchmark results",
            description="One benchmark: its workload definition (every field required), the numbers you claim "
            "(vLLM names), and optionally the raw per-request arrays, from which we recompute each claim.",
            json_schema={k: v for k, v in bench_results.RESULTS_SCHEMA.items() if k not in ("title", "$schema")},
            check=_check_inference_benchmark,
            example={"workload": _EXAMPLE_WORKLOAD, "claimed": {"mean_ttft_ms": 55.0}, "raw": _EXAMPLE_RAW},
        ),
        ResultsSchema(
            name="serving-engine-matrix",
            title="Serving engine matrix results",
            description="One benchmark result per engine on a shared workload, with feature support notes.",
            json_schema=ENGINE_MATRIX_SCHEMA,
            check=_entries_checker("serving-engine-matrix", ENGINE_MATRIX_SCHEMA),
            example={
                "workload": {k: v for k, v in _EXAMPLE_WORKLOAD.items() if k not in ("engine", "engine_version")},
                "entries": [
                    {
                        "label": "vLLM",
                        "workload": {"engine": "vllm", "engine_version": "0.11.0"},
                        "claimed": {"mean_ttft_ms": 55.0, "output_throughput": 190.0},
                        "features": {"prefix caching": True},
                    }
                ],
                "recommendation": "vLLM for this workload.",
            },
        ),
        ResultsSchema(
            name="quantization-benchmark",
            title="Quantization benchmark results",
            description="One benchmark result per quantized variant, with what was quantized and its quality.",
            json_schema=QUANTIZATION_SCHEMA,
            check=_entries_checker("quantization-benchmark", QUANTIZATION_SCHEMA),
            example={
                "workload": _EXAMPLE_WORKLOAD,
                "entries": [
                    {
                        "label": "AWQ int4",
                        "variant": {"method": "awq", "bits": 4, "group_size": 128, "quantized": "weights"},
                        "quality": {"accuracy": 0.71},
                        "claimed": {"mean_tpot_ms": 9.5},
                    }
                ],
            },
        ),
        ResultsSchema(
            name="reasoning-eval",
            title="Reasoning eval results",
            description="Each question's answer correctness, latency and tokens on each path (direct, reasoning, "
            "tool-verified).",
            json_schema=REASONING_EVAL_SCHEMA,
            check=_plain_checker("reasoning-eval", REASONING_EVAL_SCHEMA),
            example={
                "setup": {"paths": {"direct": "qwen3-8b (thinking off)", "reasoning": "qwen3-8b (thinking on)"}},
                "questions": [
                    {
                        "id": 1,
                        "category": "arithmetic",
                        "path": "direct",
                        "correct": True,
                        "latency_s": 0.8,
                        "output_tokens": 12,
                    },
                ],
            },
        ),
        ResultsSchema(
            name="generic",
            title="Measured results",
            description="What you measured, how, and the numbers.",
            json_schema=GENERIC_SCHEMA,
            check=_plain_checker("generic", GENERIC_SCHEMA),
            example={"summary": "Retrieval recall@5 on 200 questions.", "metrics": {"recall_at_5": 0.82}},
        ),
    )
}

# Specs are matched by their stable slugs in the content files; the benchmark kind by its kind.
_BY_SPEC_SLUG = {
    "serving-engine-matrix": "serving-engine-matrix",
    "quantization-benchmark": "quantization-benchmark",
    "reasoning-eval-harness": "reasoning-eval",
}


def schema_name_for(spec: Any) -> str:
    """The results schema of an ArtifactSpec (or of a free-form artifact, `spec=None`)."""
    if spec is None:
        return "generic"
    if spec.kind == "inference_benchmark":
        return "inference-benchmark"
    return _BY_SPEC_SLUG.get(spec.slug, "generic")


def schema_for(spec: Any) -> ResultsSchema:
    return SCHEMAS[schema_name_for(spec)]


def parse(text: str | bytes) -> Any:
    """JSON text to a document, read by the one JSON reader (portfolio/runner/jsondoc.py): finite
    numbers, bounded integers, depth and size. ResultsInvalid names the place (line and column
    when the text is not JSON)."""
    try:
        return jsondoc.loads(text, field="document")
    except jsondoc.DocumentRefused as exc:
        raise ResultsInvalid([{"path": exc.path, "message": exc.reason}]) from None


def check_document(document: Any) -> None:
    """The same limits for a document that arrived parsed (the API's body, a management command)."""
    try:
        jsondoc.check(document, field="document")
    except jsondoc.DocumentRefused as exc:
        raise ResultsInvalid([{"path": exc.path, "message": exc.reason}]) from None
