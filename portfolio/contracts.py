"""The submission contracts of the runnable specs, read from the runner's own modules.

The spec pages of 09 (KV cache calculator) and 07 (inference benchmark) show what a submission
must be and how it is judged. Everything here comes from the code that judges it (the case
table, the tolerance, the semantics text, the schemas, the catalog, the refusal rule, the metric
definitions), so the page cannot drift from the grader. The downloadable files (`FILES`) are
built the same way: the calculator skeleton is rendered from a template around the real
signatures and a real public example.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.template.loader import render_to_string

from portfolio.runner.bench import catalog as bench_catalog
from portfolio.runner.bench import fitting as bench_fitting
from portfolio.runner.bench import metrics as bench_metrics
from portfolio.runner.bench import model_config as bench_model_config
from portfolio.runner.bench import results as bench_results
from portfolio.runner.bench import workload as bench_workload
from portfolio.runner.benchclient import cases as client_cases
from portfolio.runner.benchclient import grade as client_grade
from portfolio.runner.benchclient import harness_client
from portfolio.runner.graders import kv_calculator as kv_grader
from portfolio.runner.kv import cases as kv_cases
from portfolio.runner.kv import catalog as kv_catalog
from portfolio.runner.kv import grade as kv_grade
from portfolio.runner.kv import harness_call
from portfolio.runner.kv import reference as kv_reference
from portfolio.runner.quant import cases as quant_cases
from portfolio.runner.quant import harness_learner as quant_harness
from portfolio.runner.tinytf import cases as tinytf_cases
from portfolio.runner.tinytf import contract as tinytf

KV = "kv_calculator"
BENCHMARK = "inference_benchmark"
TINY_TRANSFORMER = "tiny_transformer"
QUANTIZER = "quantizer"
MODULE_FILE = f"{harness_call.MODULE_NAME}.py"
SIGNATURES = {
    "kv_cache_bytes": "def kv_cache_bytes(config: dict, batch_size: int, seq_len: int, dtype: str) -> int",
    "max_concurrency": "def max_concurrency(config: dict, seq_len: int, dtype: str, kv_budget_bytes: int) -> int",
}
# The worked example in the skeleton: plain multi-head attention, the simplest public case.
SKELETON_EXAMPLE = "llama-2-7b-1k-fp16"


# --- text from the runner's modules ----------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """A paragraph, or a bullet list, of a plain-text document."""

    text: str = ""
    items: tuple[str, ...] = ()


def text_blocks(text: str) -> list[Block]:
    """Split plain text (paragraphs separated by blank lines, "- " bullets with indented
    continuation lines) into blocks a template can render, without interpreting anything else."""
    blocks: list[Block] = []
    for chunk in re.split(r"\n\s*\n", text.strip()):
        lead: list[str] = []
        items: list[str] = []
        for line in chunk.splitlines():
            stripped = line.strip()
            if stripped.startswith("- "):
                items.append(stripped[2:])
            elif items and line.startswith("  "):
                items[-1] += " " + stripped
            elif items:
                blocks.append(Block(" ".join(lead), tuple(items)))
                lead, items = [stripped], []
            else:
                lead.append(stripped)
        blocks.append(Block(" ".join(lead), tuple(items)))
    return [b for b in blocks if b.text or b.items]


def docstring_section(doc: str | None, heading: str) -> str:
    """The paragraph of a module docstring that starts with `heading` (the heading included)."""
    for chunk in re.split(r"\n\s*\n", doc or ""):
        if chunk.strip().startswith(heading):
            return " ".join(line.strip() for line in chunk.strip().splitlines())
    raise LookupError(f"no paragraph starting with {heading!r}")


# --- 09: the KV cache calculator -------------------------------------------------------------


@cache
def kv_contract() -> dict[str, Any]:
    examples = []
    for example in kv_cases.public_examples():
        entry = kv_catalog.entry(example["model"])
        examples.append(
            {**example, "title": entry["title"], "attention": entry["attention"], "source": entry["source"]}
        )
    hidden = kv_cases.hidden_cases()
    return {
        "module_file": MODULE_FILE,
        "signatures": SIGNATURES,
        "dtypes": list(kv_reference.DTYPE_BYTES.items()),
        "model_types": kv_reference.SUPPORTED_MODEL_TYPES,
        "semantics": text_blocks(kv_reference.SEMANTICS),
        "tolerance": kv_grade.DEFAULT_TOLERANCE,
        "tolerance_text": f"{kv_grade.DEFAULT_TOLERANCE:.0%}",
        "return_rule": docstring_section(harness_call.__doc__, "Return-value rule:").removeprefix(
            "Return-value rule: "
        ),
        "max_value_bits": harness_call.MAX_VALUE_BITS,
        "call_timeout_s": kv_grader.DEFAULT_CALL_TIMEOUT_S,
        "import_timeout_s": harness_call.DEFAULT_IMPORT_TIMEOUT_S,
        "examples": examples,
        "hidden_count": len(hidden),
        "hidden_functions": sorted({case["function"] for case in hidden}),
        "catalog": [kv_catalog.entry(name) for name in kv_catalog.names()],
    }


def kv_skeleton() -> str:
    """A kv_calculator.py that states the contract and computes nothing (every function raises)."""
    example = next(e for e in kv_contract()["examples"] if e["name"] == SKELETON_EXAMPLE)
    config = {
        k: example["config"][k]
        for k in ("model_type", "hidden_size", "num_attention_heads", "num_key_value_heads", "num_hidden_layers")
        if k in example["config"]
    }
    return render_to_string(
        "portfolio/contract/kv_calculator.py.txt",
        {"contract": kv_contract(), "example": example, "example_config": json.dumps(config)},
    )


def kv_public_cases() -> dict[str, Any]:
    """The public cases as data a learner can test against: inputs, full config, expected value."""
    keys = (
        "name",
        "function",
        "model",
        "batch_size",
        "seq_len",
        "dtype",
        "kv_budget_bytes",
        "expected",
        "why",
        "config",
    )
    return {
        "about": "Public cases of the Layerwise KV cache grader; the hidden cases are never published.",
        "tolerance": kv_grade.DEFAULT_TOLERANCE,
        "cases": [{k: example[k] for k in keys} for example in kv_contract()["examples"]],
    }


# --- 01: the tiny transformer ----------------------------------------------------------------


@cache
def tinytf_contract() -> dict[str, Any]:
    hidden = tinytf_cases.hidden_cases()
    public = [
        {
            "name": item["name"],
            "check": item["check"],
            "category": tinytf_cases.category(item),
            "config": item["config"],
            "inputs": {
                key: item[key]
                for key in ("batch", "seq_len", "t", "prefill", "temperature", "top_k", "top_p", "rows")
                if key in item
            },
            "expected": tinytf_cases.expectation(item),
            "why": item["why"],
        }
        for item in tinytf_cases.public_cases()
    ]
    return {
        "module_file": f"{tinytf.MODULE_NAME}.py",
        "schema": tinytf.CONFIG_SCHEMA,
        "semantics": text_blocks(tinytf.SEMANTICS),
        "layout": [
            (name, " x ".join(str(n) for n in shape))
            for name, shape in tinytf.parameter_layout(tinytf_cases.CONFIGS["gqa-rope"])
        ],
        "layout_config": tinytf_cases.CONFIGS["gqa-rope"],
        "configs": {name: tinytf_cases.CONFIGS[name] for name in sorted({c["config"] for c in public})},
        "checks": [(check, category, hint) for check, (category, hint) in tinytf_cases.CHECKS.items()],
        "tolerance": tinytf_cases.TOLERANCE,
        "loss_threshold": tinytf_cases.LOSS_THRESHOLD,
        "p_value_min": tinytf_cases.P_VALUE_MIN,
        "copy_task": tinytf_cases.COPY_TASK,
        "examples": public,
        "hidden_count": len(hidden),
        "hidden_categories": sorted({tinytf_cases.category(item) for item in hidden}),
    }


def tinytf_skeleton() -> str:
    """A tiny_transformer.py that states the contract and implements nothing (both functions raise)."""
    return render_to_string("portfolio/contract/tiny_transformer.py.txt", {"contract": tinytf_contract()})


def tinytf_public_cases() -> dict[str, Any]:
    data = tinytf_contract()
    return {
        "about": "Public cases of the Layerwise tiny transformer grader; the hidden cases are never published.",
        "tolerance": data["tolerance"],
        "configs": data["configs"],
        "cases": data["examples"],
    }


# --- 10: the quantizer ----------------------------------------------------------------------

QUANT_SIGNATURES = (
    "def quantize(weight: torch.Tensor, bits: int, group_size: int) -> dict[str, torch.Tensor]",
    "def dequantize(packed: dict[str, torch.Tensor], bits: int, group_size: int, shape: tuple[int, int]) -> torch.Tensor",
    "def qmatmul(x: torch.Tensor, packed: dict[str, torch.Tensor], bits: int, group_size: int, shape: tuple[int, int]) -> torch.Tensor  # optional",
)
# How each claim is compared with its measurement, in words (cases.CLAIM_TOLERANCE is the rule).
_CLAIM_RULE = {"relative": "within {:.0%} of the measured value", "absolute": "within {:g} of the measured value"}


@cache
def quant_contract() -> dict[str, Any]:
    hidden = quant_cases.hidden_cases()
    item_schema = quant_cases.CLAIMS_SCHEMA["properties"]["settings"]["items"]
    claim_rules = []
    for name in quant_cases.CLAIM_FIELDS:
        kind, tolerance = quant_cases.CLAIM_TOLERANCE[name]
        rule = _CLAIM_RULE[kind].format(tolerance)
        if name == "kl_divergence":
            rule += f" (or within {quant_cases.CLAIM_KL_FLOOR:g} nats of it)"
        claim_rules.append((name, item_schema["properties"][name].get("description", ""), rule))
    return {
        "module_file": f"{quant_cases.MODULE_NAME}.py",
        "claims_file": quant_cases.CLAIMS_FILE,
        "signatures": QUANT_SIGNATURES,
        "bits": quant_cases.BITS,
        "schemes": quant_cases.SCHEMES,
        "claims_rows": schema_rows(quant_cases.CLAIMS_SCHEMA, required=tuple(quant_cases.CLAIMS_SCHEMA["required"]))
        + schema_rows(item_schema, "settings[].", tuple(item_schema["required"])),
        "claim_rules": claim_rules,
        "meta_bytes_per_group": quant_cases.META_BYTES_PER_GROUP,
        "meta_bytes_per_tensor": quant_cases.META_BYTES_PER_TENSOR,
        "max_packed_entries": quant_harness.MAX_PACKED_ENTRIES,
        "error_margin": quant_cases.ERROR_MARGIN,
        "kl_margin": quant_cases.KL_MARGIN,
        "kl_slack": quant_cases.KL_SLACK,
        "top1_slack": quant_cases.TOP1_SLACK,
        "qmatmul_tolerance": quant_cases.QMATMUL_TOLERANCE,
        "qmatmul_rows": quant_cases.QMATMUL_ROWS,
        "qmatmul_layers": quant_cases.QMATMUL_LAYERS,
        "prompts": quant_cases.PROMPTS,
        "call_timeout_s": quant_cases.DEFAULT_CALL_TIMEOUT_S,
        "import_timeout_s": quant_harness.DEFAULT_IMPORT_TIMEOUT_S,
        "hints": list(quant_cases.HINTS.items()),
        "examples": quant_cases.public_examples(),
        "public_cases": [
            {"name": case["name"], "setting": case["setting"], "category": case["category"]}
            for case in quant_cases.public_cases()
        ],
        "hidden_count": len(hidden),
        "hidden_categories": sorted({case["category"] for case in hidden}),
    }


def quant_skeleton() -> str:
    """A quantizer.py that states the contract and implements nothing (both functions raise)."""
    return render_to_string("portfolio/contract/quantizer.py.txt", {"contract": quant_contract()})


def quant_claims_example() -> dict[str, Any]:
    """A claims.json that validates, with the asymmetric round-to-nearest reference's figures at
    each public setting: what a correct round-to-nearest quantizer would claim."""
    examples = quant_contract()["examples"]
    return {
        "schema_version": 1,
        "quantized": "every linear weight of the decoder blocks (q, k, v, o, gate, up, down); embeddings, norms, biases and the output head stay in float32",
        "method": "asymmetric round-to-nearest per group of group_size input weights, one scale and zero point per group, codes bit-packed densely",
        "scheme": quant_cases.ASYMMETRIC,
        "settings": [
            {
                "bits": e["bits"],
                "group_size": e["group_size"],
                **{name: e["reference"][quant_cases.ASYMMETRIC][name] for name in quant_cases.CLAIM_FIELDS},
            }
            for e in examples
        ],
    }


def quant_public_cases() -> dict[str, Any]:
    data = quant_contract()
    return {
        "about": "Public settings of the Layerwise quantizer grader with the round-to-nearest reference's figures; the hidden settings are never published.",
        "settings": data["examples"],
        "cases": data["public_cases"],
    }


# --- 07: the inference benchmark -------------------------------------------------------------

# Sample workloads run through the runner's own `fits` for the page, so the refusal reasons shown
# are the ones a learner would get.
FIT_EXAMPLES: tuple[tuple[str, dict[str, Any], dict[str, Any]], ...] = (
    (
        "The example spec on a CPU runner",
        bench_workload.EXAMPLE_SPEC,
        {"kind": "cpu", "name": "a CPU runner", "memory_bytes": bench_fitting.CPU_DEFAULT_MEMORY_BYTES},
    ),
    (
        "A GPU-catalog model on a CPU runner",
        {**bench_workload.EXAMPLE_SPEC, "architecture": "llama-3.1-8b", "dtype": "bfloat16"},
        {"kind": "cpu", "name": "a CPU runner", "memory_bytes": bench_fitting.CPU_DEFAULT_MEMORY_BYTES},
    ),
    (
        "float16 on a CPU runner",
        {**bench_workload.EXAMPLE_SPEC, "dtype": "float16"},
        {"kind": "cpu", "name": "a CPU runner", "memory_bytes": bench_fitting.CPU_DEFAULT_MEMORY_BYTES},
    ),
    (
        "Llama 3.1 8B, 64 long requests at once, on an 80 GB GPU",
        {
            **bench_workload.EXAMPLE_SPEC,
            "architecture": "llama-3.1-8b",
            "dtype": "bfloat16",
            "prompt_tokens": 8192,
            "output_tokens": 1024,
            "concurrency": [64],
        },
        {"kind": "cuda", "name": "an 80 GB GPU", "memory_bytes": 80 * 10**9},
    ),
    (
        "Llama 3.1 8B, 8 requests of 2k tokens, on an 80 GB GPU",
        {
            **bench_workload.EXAMPLE_SPEC,
            "architecture": "llama-3.1-8b",
            "dtype": "bfloat16",
            "prompt_tokens": 1024,
            "output_tokens": 1024,
            "concurrency": [1, 8],
        },
        {"kind": "cuda", "name": "an 80 GB GPU", "memory_bytes": 80 * 10**9},
    ),
)


# Our words for the fields the spec schema leaves without a description.
FIELD_NOTES = {
    "spec_version": "The spec format's version; leave it out or give the current one.",
    "dtype": "Weights and activations. No default, so every run says what it measured; float16 runs on GPU runners only.",
    "attn_implementation": "The attention kernel transformers uses.",
    "seed": "Draws the request lengths (and the random weights): the same seed gives the same workload.",
    "slo.ttft_ms": "Limit on time to first token.",
    "slo.tpot_ms": "Limit on time per output token.",
    "slo.e2e_ms": "Limit on end-to-end latency.",
    "arrival.kind": "closed (the default: concurrency levels) or an open-loop process: constant, poisson, gamma.",
    "sla.ttft_ms": "Limit on the percentile's time to first token.",
    "sla.tpot_ms": "Limit on the percentile's time per output token.",
    "sla.percentile": "Which percentile the limits apply to.",
    "sla.search_steps": "Bisection runs after the sweep.",
    "sweep.rates": "The rates to run, requests per second.",
    "sweep.points": "How many rates between one request at a time and saturation.",
    "engine.cache": "dynamic (grows per token) or static (preallocated).",
    "engine.compile": "Compile the decode step with torch.compile (GPU runners).",
}


def schema_rows(schema: dict[str, Any], prefix: str = "", required: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """A JSON Schema's properties as table rows (nested objects flattened to dotted paths).

    `required` is "yes", "one of" (the field is one of the alternatives in the schema's oneOf,
    such as architecture or config) or ""."""
    rows = []
    alternatives = {name for option in schema.get("oneOf", []) for name in option.get("required", [])}
    for name, prop in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        rows.append(
            {
                "path": path,
                "type": describe_type(prop),
                "required": "yes"
                if name in required
                else ("one of " + " or ".join(sorted(alternatives)) if name in alternatives else ""),
                "default": json.dumps(prop["default"]) if "default" in prop else "",
                "description": prop.get("description") or FIELD_NOTES.get(path, ""),
            }
        )
        if prop.get("type") == "object" and prop.get("properties") and name != "slo":
            rows += schema_rows(prop, f"{path}.", tuple(prop.get("required", ())))
        elif name == "slo":
            rows += schema_rows(prop, f"{path}.")
    return rows


def describe_type(prop: dict[str, Any]) -> str:
    if "const" in prop:
        return f"always {json.dumps(prop['const'])}"
    if "enum" in prop:
        return "one of " + ", ".join(json.dumps(v) for v in prop["enum"])
    if "oneOf" in prop:
        return " or ".join(describe_type(option) for option in prop["oneOf"])
    kind = prop.get("type", "any")
    if kind == "object" and "properties" in prop and set(prop["properties"]) >= {"kind"}:
        kind_prop = prop["properties"]["kind"]
        kinds = [kind_prop["const"]] if "const" in kind_prop else kind_prop.get("enum", [])
        fields = ", ".join(
            k if k != "kind" else "kind: " + " | ".join(json.dumps(v) for v in kinds) for k in prop["properties"]
        )
        return "{" + fields + "}"
    if kind == "array":
        item = describe_type(prop.get("items", {}))
        bounds = f", {prop['minItems']} to {prop['maxItems']} items" if "maxItems" in prop else ""
        return f"list of {item}{bounds}"
    bounds = []
    if "minimum" in prop:
        bounds.append(f"≥ {prop['minimum']:,}")
    if "exclusiveMinimum" in prop:
        bounds.append(f"> {prop['exclusiveMinimum']}")
    if "maximum" in prop:
        bounds.append(f"≤ {prop['maximum']:,}")
    return kind + (f" ({', '.join(bounds)})" if bounds else "")


@cache
def bench_contract() -> dict[str, Any]:
    listing = bench_catalog.listing()
    fits = []
    for title, spec, device in FIT_EXAMPLES:
        normalised, errors = bench_workload.validate(spec)
        assert normalised is not None, errors  # the examples are valid specs; the tests run this
        ok, reason = bench_fitting.fits(normalised, device)
        fits.append({"title": title, "ok": ok, "reason": reason})
    results = bench_results.RESULTS_SCHEMA["properties"]
    return {
        "spec_rows": schema_rows(bench_workload.SPEC_SCHEMA, required=tuple(bench_workload.SPEC_SCHEMA["required"])),
        "example": "{\n"
        + ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in bench_workload.EXAMPLE_SPEC.items())
        + "\n}",
        "catalog_cpu": [row for row in listing if row["device_class"] == "cpu"],
        "catalog_gpu": [row for row in listing if row["device_class"] == "gpu"],
        "families": {name: family["required"] for name, family in bench_model_config.FAMILIES.items()},
        "batching_modes": bench_workload.BATCHING_MODES,
        "arrival_kinds": bench_workload.ARRIVAL_KINDS,
        "cpu_max_params": bench_fitting.CPU_MAX_PARAMS,
        "cpu_time_budget_s": bench_fitting.CPU_TIME_BUDGET_S,
        "cpu_memory_bytes": bench_fitting.CPU_DEFAULT_MEMORY_BYTES,
        "memory_headroom": bench_fitting.MEMORY_HEADROOM,
        "runtime_overhead": bench_fitting.RUNTIME_OVERHEAD_BYTES,
        "fits": fits,
        "definitions": bench_metrics.DEFINITIONS,
        "percentile_method": bench_metrics.PERCENTILE_METHOD,
        "results_workload": list(bench_results.RESULTS_WORKLOAD_FIELDS.items()),
        "results_optional": [
            k for k in results["workload"]["properties"] if k not in bench_results.RESULTS_WORKLOAD_FIELDS
        ],
        "claim_keys": bench_results.CLAIM_KEYS,
        "raw_arrays": list(bench_results.RAW_ARRAYS.items()),
        "raw_required": bench_results.RAW_REQUIRED,
        "rel_tol": bench_metrics.DEFAULT_REL_TOL,
    }


# --- 07: the learner's own benchmark client ----------------------------------------------------


@cache
def client_contract() -> dict[str, Any]:
    """The client half of 07: what bench_client.py must do and how it is judged (benchclient/)."""
    floor_ms = client_grade.ALLOWANCE_FLOOR_S * 1000
    tolerance = (
        f"each moment you receive at most max({floor_ms:g} ms, {client_grade.RTT_FACTOR:g} x the 90th percentile "
        f"loopback round trip the grader measures before the case, {client_grade.LAG_FACTOR:g} x the 99th "
        "percentile of how late the server's own timer wakes during it) after the server wrote it, and never "
        "before; "
        f"each request reaching the server at most {client_grade.SEND_MAX_S * 1000:g} ms after its sent_s; "
        f"{client_grade.LATE_FRACTION:.0%} of a case's requests (at least one) may be later, for a stalled thread; "
        "counts exactly. Your summary must agree with what the harness's metric code computes from your own "
        f"records within {bench_metrics.DEFAULT_REL_TOL:.0%}."
    )
    public = []
    for item in client_cases.public_cases():
        workload = client_cases.workload(item)
        public.append(
            {
                "name": item["name"],
                "why": item["why"],
                "category": item["category"],
                "requests": len(workload["requests"]),
                "warmup": len(workload["warmup"]),
                "stream": workload["stream"],
                "arrival": workload["arrival"]["kind"],
                "concurrency": workload.get("concurrency"),
            }
        )
    hidden = client_cases.hidden_cases()
    return {
        "module_file": f"{harness_client.MODULE_NAME}.py",
        "signature": "def run(base_url: str, workload: dict) -> dict",
        "tolerance_text": tolerance,
        "case_wall_s": harness_client.DEFAULT_CASE_WALL_S,
        "python": "3.11; no third-party packages",
        "public": public,
        "hidden_count": len(hidden),
        "categories": [{"name": name, "hint": hint} for name, hint in client_cases.CATEGORY_HINTS.items()],
    }


def client_skeleton() -> str:
    return render_to_string("portfolio/contract/bench_client.py.txt", {"client": client_contract()})


def client_public_cases() -> dict[str, Any]:
    return {
        "about": "The public cases of the Layerwise benchmark-client grader: the workload run() receives in each; "
        "hidden cases change how the server behaves and are never published.",
        "cases": [
            {"name": item["name"], "why": item["why"], "workload": client_cases.workload(item)}
            for item in client_cases.public_cases()
        ],
    }


# --- downloads -------------------------------------------------------------------------------


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# (spec kind, file name) -> (content type, a function making the text)
FILES: dict[tuple[str, str], tuple[str, Any]] = {
    (KV, MODULE_FILE): ("text/x-python; charset=utf-8", kv_skeleton),
    (KV, "public_cases.json"): ("application/json", lambda: _json(kv_public_cases())),
    (TINY_TRANSFORMER, "tiny_transformer.py"): ("text/x-python; charset=utf-8", tinytf_skeleton),
    (TINY_TRANSFORMER, "public_cases.json"): ("application/json", lambda: _json(tinytf_public_cases())),
    (QUANTIZER, "quantizer.py"): ("text/x-python; charset=utf-8", quant_skeleton),
    (QUANTIZER, "claims.json"): ("application/json", lambda: _json(quant_claims_example())),
    (QUANTIZER, "claims.schema.json"): ("application/json", lambda: _json(quant_cases.CLAIMS_SCHEMA)),
    (QUANTIZER, "public_cases.json"): ("application/json", lambda: _json(quant_public_cases())),
    (BENCHMARK, "workload.json"): ("application/json", lambda: _json(bench_workload.EXAMPLE_SPEC)),
    (BENCHMARK, "bench_client.py"): ("text/x-python; charset=utf-8", client_skeleton),
    (BENCHMARK, "public_cases.json"): ("application/json", lambda: _json(client_public_cases())),
    (BENCHMARK, "workload.schema.json"): ("application/json", lambda: _json(bench_workload.SPEC_SCHEMA)),
}


def contract_for(kind: str) -> dict[str, Any] | None:
    if kind == KV:
        return {"kind": KV, **kv_contract()}
    if kind == BENCHMARK:
        return {"kind": BENCHMARK, **bench_contract(), "client": client_contract()}
    if kind == TINY_TRANSFORMER:
        return {"kind": TINY_TRANSFORMER, **tinytf_contract()}
    if kind == QUANTIZER:
        return {"kind": QUANTIZER, **quant_contract()}
    return None
