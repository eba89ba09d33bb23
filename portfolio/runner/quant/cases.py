"""The quantizer grader's settings, models, cases and claims. Standard library only (the web app
shows them on the spec page).

A *setting* is what the grader asks the learner's `quantize(weight, bits, group_size)` for, applied
to every linear layer of a reference model's decoder blocks. The models come from the runner's
benchmark catalog (`bench.catalog`, the CPU entries), made shallower, with weights drawn by
`measure.synth_linear` (heavy-tailed, with outlier input channels, as real checkpoints have).
Two settings are public (llama-shaped; the claims are checked on them), two are hidden (a
Qwen2-shaped model with QKV biases and an MLP width that no group size divides).

Each setting yields cases of these categories:

- storage        the packed tensors' bytes against what the bits and group size allow
- reconstruction weight error of the layers whose width the group size divides, against
                 round-to-nearest per group at the same bits, group size and scheme
- partial_group  the same on the layers whose width leaves a partial last group
- model_outputs  KL divergence of next-token distributions and top-1 agreement against the
                 unquantized model, on fixed prompts, compared with the reference's
- qmatmul        (only when the module defines qmatmul) qmatmul(x, packed) against
                 x @ dequantize(packed).T
- claims         (public settings) claims.json's figures against the measured ones

`catches` names the typical mistakes (tests/runner/quant/submissions/) a case is there to catch;
the tests check that each mistake fails exactly those cases and that a correct quantizer passes
every case.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict

from portfolio.runner.bench import catalog as bench_catalog
from portfolio.runner.bench.checks import Errors, add_error, int_in, is_number

MODULE_NAME = "quantizer"
CLAIMS_FILE = "claims.json"
PUBLIC_EXPECTED_PATH = Path(__file__).resolve().with_name("public_expected.json")

VISIBLE = "visible"
HIDDEN = "hidden"

STORAGE = "storage"
RECONSTRUCTION = "reconstruction"
PARTIAL_GROUP = "partial_group"
MODEL_OUTPUTS = "model_outputs"
QMATMUL = "qmatmul"
CLAIMS = "claims"
SPEED = "speed"  # GPU runners only: reported in metrics, never a case

SYMMETRIC = "symmetric"
ASYMMETRIC = "asymmetric"
SCHEMES = (SYMMETRIC, ASYMMETRIC)
BITS = (2, 3, 4, 8)

# --- what passes ---------------------------------------------------------------------------------
# storage: payload bits (the last partial group may be padded to a full group), plus metadata of
# at most META_BYTES_PER_GROUP per group (a float32 scale and a float32 zero point), plus
# META_BYTES_PER_TENSOR for anything else (a shape, a flag).
META_BYTES_PER_GROUP = 8
META_BYTES_PER_TENSOR = 64
# reconstruction: relative error ||W - W_q|| / ||W|| (Frobenius) at most this many times the
# round-to-nearest reference's (same bits, group size and scheme).
ERROR_MARGIN = 1.25
# model outputs: KL at most KL_MARGIN x the reference's plus KL_SLACK; top-1 agreement at least the
# reference's minus TOP1_SLACK.
KL_MARGIN = 1.5
KL_SLACK = 1e-4
TOP1_SLACK = 0.03
# qmatmul: ||y - x W_q^T|| / ||x W_q^T|| at most this (float16 arithmetic inside is fine).
QMATMUL_TOLERANCE = 1e-2
# claims: how far a claimed figure may be from the measured one.
CLAIM_TOLERANCE = {
    "bits_per_weight": ("relative", 0.01),
    "weight_rel_error": ("relative", 0.2),
    "kl_divergence": ("relative", 0.35),
    "top1_agreement": ("absolute", 0.03),
}
CLAIM_KL_FLOOR = 1e-3  # KL claims within this of the measured value pass whatever the ratio

DEFAULT_CALL_TIMEOUT_S = 5.0


class Model(TypedDict):
    name: str
    catalog: str  # a bench.catalog CPU entry
    overrides: dict[str, Any]
    seed: int
    why: str


class Setting(TypedDict):
    key: str
    visibility: str
    model: str
    bits: int
    group_size: int


class Case(TypedDict):
    name: str
    visibility: str
    setting: str
    category: str
    catches: list[str]
    hint: str


MODELS: dict[str, Model] = {
    "llama": {
        "name": "llama",
        "catalog": "tiny-llama",
        "overrides": {"num_hidden_layers": 2, "vocab_size": 2048},
        "seed": 1001,
        "why": "GQA, SwiGLU MLP of width 704: a 128-wide group leaves a partial group of 64 in down_proj",
    },
    "qwen2": {
        "name": "qwen2",
        "catalog": "tiny-qwen2",
        # Untied here: with random weights a tied head ranks the input token first at every position.
        "overrides": {
            "num_hidden_layers": 2,
            "vocab_size": 2048,
            "intermediate_size": 720,
            "tie_word_embeddings": False,
        },
        "seed": 2002,
        "why": "QKV biases, MLP width 720 that neither 32 nor 64 divides",
    },
}

SETTINGS: list[Setting] = [
    {"key": "int4-g128", "visibility": VISIBLE, "model": "llama", "bits": 4, "group_size": 128},
    {"key": "int8-g64", "visibility": VISIBLE, "model": "llama", "bits": 8, "group_size": 64},
    {"key": "hidden-a", "visibility": HIDDEN, "model": "qwen2", "bits": 4, "group_size": 32},
    {"key": "hidden-b", "visibility": HIDDEN, "model": "qwen2", "bits": 3, "group_size": 64},
]

PROMPTS = {"batch": 4, "length": 32, "seed": 7}
QMATMUL_ROWS = 16
# The layers qmatmul is called on (per setting): one attention and one MLP projection.
QMATMUL_LAYERS = ("model.layers.0.self_attn.q_proj", "model.layers.1.mlp.down_proj")

# The typical mistakes, named like the files in tests/runner/quant/submissions/.
PER_TENSOR_SCALE = "per_tensor_scale"
CLAMP_OFF_BY_ONE = "clamp_off_by_one"
BYTE_PER_VALUE = "byte_per_value"
DEQUANT_NO_ZERO_POINT = "dequant_no_zero_point"
PARTIAL_GROUP_IGNORED = "partial_group_ignored"
OVERSTATED_CLAIMS = "overstated_claims"
MISTAKES = (
    PER_TENSOR_SCALE,
    CLAMP_OFF_BY_ONE,
    BYTE_PER_VALUE,
    DEQUANT_NO_ZERO_POINT,
    PARTIAL_GROUP_IGNORED,
    OVERSTATED_CLAIMS,
)

HINTS = {
    STORAGE: (
        "Count the bytes your packed tensors take: b-bit codes packed densely (two 4-bit codes per "
        "byte, eight 3-bit codes in three bytes), plus one scale (and zero point) per group."
    ),
    RECONSTRUCTION: (
        "Compare with round-to-nearest per group: one scale per group of group_size consecutive "
        "input weights in each row, codes clamped to the range b bits can hold, zero point applied "
        "when dequantizing."
    ),
    PARTIAL_GROUP: (
        "When the row length is not a multiple of group_size, the last group is shorter: it still "
        "needs its own scale (and zero point) and must be dequantized back to the original width."
    ),
    MODEL_OUTPUTS: (
        "The quantized model's next-token distributions drift further from the original than "
        "round-to-nearest's: check scales per group, the clamping range and the zero point."
    ),
    QMATMUL: "qmatmul(x, packed, ...) must equal x @ dequantize(packed, ...).T (as torch.nn.functional.linear).",
    CLAIMS: (
        "Claim what you measure: bits_per_weight is 8 x packed bytes / weights; the run page shows "
        "every measured figure beside your claim."
    ),
}

# What each mistake fails (tests/runner/quant checks it is exactly these cases):
# - per-tensor scales: the outlier channels set every group's step; a code clamped to 2^b wraps to
#   0 when packed; dequantizing without the zero point shifts every weight. All three ruin the
#   error and the outputs at every setting, and the claims made for a correct quantizer.
# - a byte per code: right values, twice the storage below 8 bits (so its bits_per_weight too).
# - the partial group dropped: only the partial groups are wrong (zeros), too few columns to move
#   the model outputs past the margin; and no storage for them, so bits_per_weight is off.
_RUINED = (PER_TENSOR_SCALE, CLAMP_OFF_BY_ONE, DEQUANT_NO_ZERO_POINT)


def _catches(setting: Setting, category: str, partial: bool) -> list[str]:
    caught: list[str] = []
    if category in (RECONSTRUCTION, PARTIAL_GROUP, MODEL_OUTPUTS, CLAIMS):
        caught += _RUINED
    if category in (STORAGE, CLAIMS) and setting["bits"] < 8:
        caught.append(BYTE_PER_VALUE)
    if category == PARTIAL_GROUP or (category == CLAIMS and partial):
        caught.append(PARTIAL_GROUP_IGNORED)
    if category == CLAIMS:
        caught.append(OVERSTATED_CLAIMS)
    return sorted(caught)


def _has_partial(setting: Setting) -> bool:
    return any(width % setting["group_size"] for _, (_, width) in linear_shapes(setting["model"]).items())


def _build_cases() -> list[Case]:
    cases: list[Case] = []
    hidden_index = 0
    for setting in SETTINGS:
        partial = _has_partial(setting)
        categories = [STORAGE, RECONSTRUCTION]
        if partial:
            categories.append(PARTIAL_GROUP)
        categories += [MODEL_OUTPUTS, QMATMUL]
        if setting["visibility"] == VISIBLE:
            categories.append(CLAIMS)
        for category in categories:
            if setting["visibility"] == VISIBLE:
                name = f"{setting['key']}-{category.replace('_', '-')}"
            else:
                hidden_index += 1
                name = f"hidden-{hidden_index:02d}"
            cases.append(
                {
                    "name": name,
                    "visibility": setting["visibility"],
                    "setting": setting["key"],
                    "category": category,
                    "catches": _catches(setting, category, partial),
                    "hint": HINTS[category],
                }
            )
    return cases


# --- models ----------------------------------------------------------------------------------------


def model_config(name: str) -> dict[str, Any]:
    """The reference model's config.json: the catalog entry with the model's overrides."""
    spec = MODELS[name]
    entry = bench_catalog.CPU_CATALOG[spec["catalog"]]
    return {**entry["config"], **spec["overrides"]}


def linear_shapes(name: str) -> dict[str, tuple[int, int]]:
    """{module name: (out_features, in_features)} of every linear layer in the decoder blocks, in
    the names transformers gives them (Llama and Qwen2 share the layout)."""
    config = model_config(name)
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    head_dim = int(config.get("head_dim") or hidden // heads)
    kv = int(config.get("num_key_value_heads") or heads) * head_dim
    mlp = int(config["intermediate_size"])
    shapes: dict[str, tuple[int, int]] = {}
    for layer in range(int(config["num_hidden_layers"])):
        prefix = f"model.layers.{layer}"
        shapes[f"{prefix}.self_attn.q_proj"] = (heads * head_dim, hidden)
        shapes[f"{prefix}.self_attn.k_proj"] = (kv, hidden)
        shapes[f"{prefix}.self_attn.v_proj"] = (kv, hidden)
        shapes[f"{prefix}.self_attn.o_proj"] = (hidden, heads * head_dim)
        shapes[f"{prefix}.mlp.gate_proj"] = (mlp, hidden)
        shapes[f"{prefix}.mlp.up_proj"] = (mlp, hidden)
        shapes[f"{prefix}.mlp.down_proj"] = (hidden, mlp)
    return shapes


def setting(key: str) -> Setting:
    for item in SETTINGS:
        if item["key"] == key:
            return dict(item)  # type: ignore[return-value]
    raise KeyError(f"no setting {key!r}")


def public_settings() -> list[Setting]:
    return [item for item in SETTINGS if item["visibility"] == VISIBLE]


def tensor_id(setting_key: str, layer: str) -> str:
    """The id of one quantize() call: a setting and a layer."""
    return f"{setting_key}/{layer}"


def quantize_requests(settings: list[Setting] | None = None) -> list[dict[str, Any]]:
    """What the learner's quantize step is asked: one call per setting and layer. `weight` is the
    layer's name in the weights file (shared by the settings of one model)."""
    requests = []
    for item in settings or SETTINGS:
        for layer, shape in linear_shapes(item["model"]).items():
            requests.append(
                {
                    "id": tensor_id(item["key"], layer),
                    "weight": f"{item['model']}/{layer}",
                    "shape": list(shape),
                    "bits": item["bits"],
                    "group_size": item["group_size"],
                    "qmatmul": layer in QMATMUL_LAYERS,
                }
            )
    return requests


# --- storage ---------------------------------------------------------------------------------------


def storage_bound(shape: tuple[int, int] | list[int], bits: int, group_size: int) -> int:
    """The most bytes packed tensors for one weight may take (see META_BYTES_*)."""
    rows, cols = int(shape[0]), int(shape[1])
    groups = math.ceil(cols / group_size)
    payload = math.ceil(rows * groups * group_size * bits / 8)
    return payload + rows * groups * META_BYTES_PER_GROUP + META_BYTES_PER_TENSOR


# --- cases -----------------------------------------------------------------------------------------


def all_cases() -> list[Case]:
    return [dict(case) for case in CASES]  # type: ignore[misc]


def public_cases() -> list[Case]:
    return [case for case in all_cases() if case["visibility"] == VISIBLE]


def hidden_cases() -> list[Case]:
    return [case for case in all_cases() if case["visibility"] == HIDDEN]


def load_public_expected(path: Path = PUBLIC_EXPECTED_PATH) -> dict[str, Any]:
    """The committed reference figures of the public settings (both schemes), measured by
    ``RUNNER_PYTHON -m portfolio.runner.quant.measure --write`` and re-measured by a runner-env test."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict) and isinstance(data.get("settings"), dict):
        return data
    raise ValueError(f"{path} is not a quantizer reference table")


def public_examples(path: Path = PUBLIC_EXPECTED_PATH) -> list[dict[str, Any]]:
    """The public settings with what passes, for the spec page and public_cases.json."""
    references = load_public_expected(path)["settings"]
    examples: list[dict[str, Any]] = []
    for item in public_settings():
        shapes = linear_shapes(item["model"])
        reference = references.get(item["key"], {})
        examples.append(
            {
                "setting": item["key"],
                "model": item["model"],
                "catalog": MODELS[item["model"]]["catalog"],
                "config": model_config(item["model"]),
                "why": MODELS[item["model"]]["why"],
                "bits": item["bits"],
                "group_size": item["group_size"],
                "layers": len(shapes),
                "weights": sum(r * c for r, c in shapes.values()),
                "storage_bound_bytes": sum(storage_bound(s, item["bits"], item["group_size"]) for s in shapes.values()),
                "reference": reference,
                "cases": [case["name"] for case in public_cases() if case["setting"] == item["key"]],
            }
        )
    return examples


# --- claims.json -----------------------------------------------------------------------------------

CLAIM_FIELDS = ("bits_per_weight", "weight_rel_error", "kl_divergence", "top1_agreement")

CLAIMS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "claims.json of a Layerwise quantization benchmark (artifact 10)",
    "type": "object",
    "required": ["schema_version", "quantized", "method", "scheme", "settings"],
    "additionalProperties": False,
    "properties": {
        "schema_version": {"const": 1},
        "quantized": {
            "type": "string",
            "minLength": 1,
            "maxLength": 500,
            "description": "What was quantized (the grader quantizes every linear weight of the decoder blocks; embeddings, norms, biases and the output head stay in float32).",
        },
        "method": {
            "type": "string",
            "minLength": 1,
            "maxLength": 500,
            "description": "How: rounding, scale and zero-point choice, packing, anything beyond round-to-nearest.",
        },
        "scheme": {
            "enum": list(SCHEMES),
            "description": "symmetric (no zero point) or asymmetric (a zero point per group): picks the round-to-nearest reference you are compared with.",
        },
        "settings": {
            "type": "array",
            "minItems": 1,
            "maxItems": 16,
            "description": "What you expect at each public setting (all of them are required).",
            "items": {
                "type": "object",
                "required": ["bits", "group_size", *CLAIM_FIELDS],
                "additionalProperties": False,
                "properties": {
                    "bits": {"enum": list(BITS)},
                    "group_size": {"type": "integer", "minimum": 8, "maximum": 4096},
                    "bits_per_weight": {
                        "type": "number",
                        "exclusiveMinimum": 0,
                        "description": "8 x packed bytes / number of weights, metadata included.",
                    },
                    "weight_rel_error": {
                        "type": "number",
                        "minimum": 0,
                        "description": "||W - dequantize(quantize(W))|| / ||W|| (Frobenius), over all the layers together.",
                    },
                    "kl_divergence": {
                        "type": "number",
                        "minimum": 0,
                        "description": "Mean KL(original || quantized) of next-token distributions, in nats.",
                    },
                    "top1_agreement": {
                        "type": "number",
                        "minimum": 0,
                        "maximum": 1,
                        "description": "Share of positions where both models rank the same token first.",
                    },
                },
            },
        },
    },
}


def validate_claims(data: Any) -> tuple[dict[str, Any] | None, Errors]:
    """claims.json checked against CLAIMS_SCHEMA by hand (no jsonschema package on either side):
    (the claims with settings keyed by setting key, None) or (None, errors naming the field)."""
    errors: Errors = []
    if not isinstance(data, dict):
        add_error(errors, "", "must be a JSON object")
        return None, errors
    properties = CLAIMS_SCHEMA["properties"]
    for key in sorted(set(data) - set(properties)):
        add_error(errors, key, "is not a field of claims.json")
    for key in CLAIMS_SCHEMA["required"]:
        if key not in data:
            add_error(errors, key, "is required")
    if "schema_version" in data and data["schema_version"] != 1:
        add_error(errors, "schema_version", "must be 1")
    for key in ("quantized", "method"):
        value = data.get(key)
        if key in data and (not isinstance(value, str) or not value.strip() or len(value) > 500):
            add_error(errors, key, "must be a text of 1 to 500 characters")
    if "scheme" in data and data["scheme"] not in SCHEMES:
        add_error(errors, "scheme", f"must be one of {', '.join(SCHEMES)}")
    by_setting: dict[str, dict[str, float]] = {}
    entries = data.get("settings")
    if "settings" in data and (not isinstance(entries, list) or not 1 <= len(entries) <= 16):
        add_error(errors, "settings", "must be a list of 1 to 16 objects")
        entries = []
    wanted = {(item["bits"], item["group_size"]): item["key"] for item in public_settings()}
    item_props = properties["settings"]["items"]["properties"]
    for index, entry in enumerate(entries or []):
        path = f"settings[{index}]"
        if not isinstance(entry, dict):
            add_error(errors, path, "must be an object")
            continue
        for key in sorted(set(entry) - set(item_props)):
            add_error(errors, f"{path}.{key}", "is not a field of a setting")
        bits = entry.get("bits")
        if bits not in BITS or isinstance(bits, bool):
            add_error(errors, f"{path}.bits", f"must be one of {', '.join(map(str, BITS))}")
        group = int_in(errors, f"{path}.group_size", entry.get("group_size"), 8, 4096)
        figures: dict[str, float] = {}
        for key in CLAIM_FIELDS:
            value = entry.get(key)
            if not is_number(value) or value < 0 or (key == "top1_agreement" and value > 1):
                add_error(
                    errors,
                    f"{path}.{key}",
                    "must be a number" + (" from 0 to 1" if key == "top1_agreement" else " ≥ 0"),
                )
            else:
                figures[key] = float(value)
        key = wanted.get((bits, group))  # type: ignore[arg-type]
        if key is not None and len(figures) == len(CLAIM_FIELDS):
            by_setting[key] = figures
    if isinstance(entries, list) and entries:
        for (bits, group), key in wanted.items():
            if key not in by_setting and not any(e["path"].startswith("settings[") for e in errors):
                add_error(errors, "settings", f"has no entry for the public setting bits={bits}, group_size={group}")
    if errors:
        return None, errors
    return {**data, "by_setting": by_setting}, errors


def claim_matches(field: str, claimed: float, measured: float) -> bool:
    kind, tolerance = CLAIM_TOLERANCE[field]
    if field == "kl_divergence" and abs(claimed - measured) <= CLAIM_KL_FLOOR:
        return True
    if kind == "absolute":
        return abs(claimed - measured) <= tolerance
    return abs(claimed - measured) <= tolerance * abs(measured)


CASES: list[Case] = _build_cases()


def reference_figures(row: Mapping[str, Any], scheme: str) -> dict[str, float]:
    """One scheme's figures from a reference-table row."""
    return dict(row.get(scheme, {}))
