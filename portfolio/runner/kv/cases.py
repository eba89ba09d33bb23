"""The KV grader's cases: public ones (shown with their expected values) and hidden ones.

Standard library only. A case names a catalog config and the call's arguments; it never holds a
config dict (the config is the catalog's, so a case cannot drift from it) and, for hidden cases,
never an expected value: those are measured when the submission is graded.

Public expected values live in `public_expected.json` next to this module, with the versions
of torch and transformers that measured them. They are not typed in by hand:
``RUNNER_PYTHON -m portfolio.runner.kv.cases --write`` measures them, and a runner-env test
measures them again and compares, so the file cannot drift from the truth. A grader running the
same versions may take them from the table (`table_measurements`) instead of measuring the
public cases again; hidden cases are always measured.

Each case's `catches` says which of the typical mistakes it is there to catch (the names of the
calculators in tests/runner/kv/submissions/); the tests assert that exactly the cases listed for
a mistake fail for that calculator, and that a correct calculator passes every case.

Why these cases: GQA models (Llama 3.x, Mistral, Qwen2.5, Gemma) fail a calculator that counts
query heads; Gemma 2 and Gemma 3 publish head_dim 256, unlike hidden_size / heads (224 and 288);
Mistral past 4096 tokens and Gemma 3 past 512 show whether the window is applied (and Mistral
at 2048 and Gemma 3 at 300 that it is not applied below it); DeepSeek-V3 separates the latent
cache from per-head keys and values; Falcon has one KV head named only by multi_query; Llama 2
is plain MHA; dtypes and batch sizes vary. max_concurrency cases reuse the batch-1 measurement
of a bytes case with the same model, length and dtype, so they cost no extra measurement.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict

from portfolio.runner.casetable import HIDDEN, VISIBLE, case_sets
from portfolio.runner.kv import catalog

PUBLIC_EXPECTED_PATH = Path(__file__).resolve().with_name("public_expected.json")

BYTES = "kv_cache_bytes"
CONCURRENCY = "max_concurrency"

# The typical mistakes, named like the calculators in tests/runner/kv/submissions/.
Q_HEADS = "q_heads"
HEAD_DIM_FROM_HIDDEN = "head_dim_from_hidden"
NO_SLIDING_WINDOW = "no_sliding_window"
MLA_AS_MHA = "mla_as_mha"
K_WITHOUT_V = "k_without_v"
MISTAKES = (Q_HEADS, HEAD_DIM_FROM_HIDDEN, NO_SLIDING_WINDOW, MLA_AS_MHA, K_WITHOUT_V)


# What each case checks, in the words the run page shows, and the hint a failing case gets: written
# from the category alone, so a hidden case's hint names the idea without giving away its inputs.
CATEGORY_HINTS: dict[str, str] = {
    "max concurrency": "max_concurrency is the budget divided by the cache of one sequence (batch 1) at this "
    "length and dtype, rounded down: check you divide by one sequence's bytes, not a batch's, and floor.",
    "MLA latent": "DeepSeek-style MLA caches one compressed latent (kv_lora_rank) plus one rope key "
    "(qk_rope_head_dim) per token and layer, with no heads and no separate V: do not count per-head K and V.",
    "sliding window past the window": "Past the sliding window a layer keeps only the last `sliding_window` "
    "tokens: cap the cached length at the window for the layers that slide (all of them, or the ones the "
    "config's layer pattern names).",
    "sliding window below the window": "Below the window the window changes nothing: every token is cached, "
    "so the cap must be min(seq_len, window), not the window itself.",
    "head_dim from the config": "Use the config's head_dim when it has one (Gemma publishes 256); "
    "hidden_size / num_attention_heads is only the fallback.",
    "GQA heads": "Grouped-query attention caches num_key_value_heads heads, not num_attention_heads: "
    "the query heads share them.",
    "batch": "Every sequence of the batch has its own cache: multiply by batch_size.",
    "dtype width": "Bytes per element follow the dtype: 4 for float32, 2 for float16 and bfloat16.",
    "keys and values": "Each attention layer caches a key and a value per head and token: count both (a factor 2).",
}


def category(function: str, name: str, batch: int, dtype: str, catches: list[str]) -> str:
    """The category of a case (a key of CATEGORY_HINTS), from what it is there to catch."""
    if function == CONCURRENCY:
        return "max concurrency"
    for mistake, label in (
        (MLA_AS_MHA, "MLA latent"),
        (NO_SLIDING_WINDOW, "sliding window past the window"),
        (HEAD_DIM_FROM_HIDDEN, "head_dim from the config"),
    ):
        if mistake in catches:
            return label
    if "below-window" in name:
        return "sliding window below the window"
    if batch > 1:
        return "batch"
    if Q_HEADS in catches:
        return "GQA heads"
    if dtype == "float32":
        return "dtype width"
    return "keys and values"


class Case(TypedDict):
    name: str
    function: str  # BYTES or CONCURRENCY
    visibility: str  # VISIBLE or HIDDEN
    model: str  # a catalog name
    batch_size: int  # 1 for CONCURRENCY (the measurement it needs)
    seq_len: int
    dtype: str
    kv_budget_bytes: int | None  # CONCURRENCY only
    catches: list[str]
    why: str
    category: str  # a key of CATEGORY_HINTS


def _bytes(
    name: str, visibility: str, model: str, batch: int, seq: int, dtype: str, catches: list[str], why: str
) -> Case:
    return {
        "name": name,
        "function": BYTES,
        "visibility": visibility,
        "model": model,
        "batch_size": batch,
        "seq_len": seq,
        "dtype": dtype,
        "kv_budget_bytes": None,
        "catches": catches,
        "why": why,
        "category": category(BYTES, name, batch, dtype, catches),
    }


def _concurrency(
    name: str, visibility: str, model: str, seq: int, dtype: str, budget: int, catches: list[str], why: str
) -> Case:
    return {
        "name": name,
        "function": CONCURRENCY,
        "visibility": visibility,
        "model": model,
        "batch_size": 1,
        "seq_len": seq,
        "dtype": dtype,
        "kv_budget_bytes": budget,
        "catches": catches,
        "why": why,
        "category": category(CONCURRENCY, name, 1, dtype, catches),
    }


# A calculator that writes K without V is off by 2x everywhere except MLA, whose formula has no
# factor 2 (the latent and the rope key are one of each); a calculator that counts query heads
# is right only where they equal the KV heads (MHA) and for MLA, whose cache has no heads.
_NOT_MLA = [K_WITHOUT_V]

CASES: list[Case] = [
    # ---- public: the learner sees inputs, config and expected bytes ----
    _bytes(
        "llama-3.1-8b-8k-bf16",
        VISIBLE,
        "llama-3.1-8b",
        1,
        8192,
        "bfloat16",
        [Q_HEADS, *_NOT_MLA],
        "GQA: 8 KV heads, not 32 query heads; 128 KiB per token",
    ),
    _bytes(
        "mistral-7b-2k-below-window-fp16",
        VISIBLE,
        "mistral-7b-v0.1",
        1,
        2048,
        "float16",
        [Q_HEADS, *_NOT_MLA],
        "below the 4096 window the window changes nothing",
    ),
    _bytes(
        "mistral-7b-6k-past-window-fp32",
        VISIBLE,
        "mistral-7b-v0.1",
        1,
        6000,
        "float32",
        [Q_HEADS, NO_SLIDING_WINDOW, *_NOT_MLA],
        "past the window every layer keeps 4095 tokens",
    ),
    _bytes(
        "gemma-2-9b-1k-bf16",
        VISIBLE,
        "gemma-2-9b",
        1,
        1024,
        "bfloat16",
        [Q_HEADS, HEAD_DIM_FROM_HIDDEN, *_NOT_MLA],
        "head_dim is 256, not 3584 / 16 = 224",
    ),
    _bytes(
        "gemma-3-1b-1k-past-window-bf16",
        VISIBLE,
        "gemma-3-1b",
        1,
        1024,
        "bfloat16",
        [Q_HEADS, HEAD_DIM_FROM_HIDDEN, NO_SLIDING_WINDOW, *_NOT_MLA],
        "22 sliding layers keep 511 tokens, 4 full layers keep 1024; head_dim 256, not 288",
    ),
    _bytes(
        "deepseek-v3-4k-bf16",
        VISIBLE,
        "deepseek-v3",
        1,
        4096,
        "bfloat16",
        [MLA_AS_MHA],
        "MLA caches a 512 + 64 latent per layer and token, shared by 128 heads",
    ),
    _bytes(
        "falcon-7b-batch8-fp32",
        VISIBLE,
        "falcon-7b",
        8,
        1024,
        "float32",
        [Q_HEADS, *_NOT_MLA],
        "multi_query: one KV head for 71 query heads",
    ),
    _bytes(
        "llama-2-7b-1k-fp16",
        VISIBLE,
        "llama-2-7b",
        1,
        1024,
        "float16",
        [*_NOT_MLA],
        "classic MHA: KV heads = query heads",
    ),
    _concurrency(
        "llama-3.1-8b-concurrency-8k",
        VISIBLE,
        "llama-3.1-8b",
        8192,
        "bfloat16",
        60_000_000_000,
        [Q_HEADS, *_NOT_MLA],
        "60 GB of KV memory over 1 GiB per 8k-token sequence",
    ),
    # ---- hidden: inputs stay in the repository, expected values are measured at grading ----
    _bytes(
        "hidden-01",
        HIDDEN,
        "llama-3.1-70b",
        2,
        3000,
        "float32",
        [Q_HEADS, *_NOT_MLA],
        "80 layers, 8 KV heads of 64 query heads",
    ),
    _bytes(
        "hidden-02",
        HIDDEN,
        "llama-3.2-3b",
        4,
        600,
        "bfloat16",
        [Q_HEADS, *_NOT_MLA],
        "explicit head_dim equal to hidden / heads, batch 4",
    ),
    _bytes(
        "hidden-03",
        HIDDEN,
        "qwen2.5-7b",
        3,
        1000,
        "float16",
        [Q_HEADS, *_NOT_MLA],
        "4 KV heads; sliding_window present but not used",
    ),
    _bytes(
        "hidden-04",
        HIDDEN,
        "mistral-7b-v0.1",
        2,
        5000,
        "float32",
        [Q_HEADS, NO_SLIDING_WINDOW, *_NOT_MLA],
        "past the window, batch 2",
    ),
    _bytes(
        "hidden-05",
        HIDDEN,
        "gemma-2-9b",
        1,
        4200,
        "float32",
        [Q_HEADS, HEAD_DIM_FROM_HIDDEN, NO_SLIDING_WINDOW, *_NOT_MLA],
        "hybrid past the window: 21 layers keep 4095 tokens, 21 keep 4200",
    ),
    _bytes(
        "hidden-06",
        HIDDEN,
        "gemma-3-1b",
        2,
        700,
        "float16",
        [Q_HEADS, HEAD_DIM_FROM_HIDDEN, NO_SLIDING_WINDOW, *_NOT_MLA],
        "hybrid just past the 512 window, batch 2",
    ),
    _bytes(
        "hidden-07",
        HIDDEN,
        "gemma-3-1b",
        1,
        300,
        "float32",
        [Q_HEADS, HEAD_DIM_FROM_HIDDEN, *_NOT_MLA],
        "below the window: no layer is trimmed",
    ),
    _bytes(
        "hidden-08",
        HIDDEN,
        "deepseek-v3",
        2,
        2000,
        "float32",
        [MLA_AS_MHA],
        "MLA at float32, batch 2",
    ),
    _bytes(
        "hidden-09",
        HIDDEN,
        "falcon-7b",
        1,
        1500,
        "bfloat16",
        [Q_HEADS, *_NOT_MLA],
        "MQA at bfloat16",
    ),
    _bytes(
        "hidden-10",
        HIDDEN,
        "llama-2-7b",
        2,
        500,
        "float32",
        [*_NOT_MLA],
        "MHA, batch 2",
    ),
    _concurrency(
        "hidden-11",
        HIDDEN,
        "mistral-7b-v0.1",
        6000,
        "float32",
        40_000_000_000,
        [Q_HEADS, NO_SLIDING_WINDOW, *_NOT_MLA],
        "concurrency past the window",
    ),
    _concurrency(
        "hidden-12",
        HIDDEN,
        "deepseek-v3",
        4096,
        "bfloat16",
        20_000_000_000,
        [MLA_AS_MHA],
        "concurrency with the latent cache",
    ),
    _concurrency(
        "hidden-13",
        HIDDEN,
        "gemma-3-1b",
        1024,
        "bfloat16",
        2_000_000_000,
        [Q_HEADS, HEAD_DIM_FROM_HIDDEN, NO_SLIDING_WINDOW, *_NOT_MLA],
        "concurrency for the hybrid MQA model",
    ),
]


all_cases, public_cases, hidden_cases = case_sets(CASES)


def case(name: str) -> Case:
    for item in all_cases():
        if item["name"] == name:
            return item
    raise KeyError(f"no case named {name!r}")


def measurement_key(item: Case) -> tuple[str, int, int, str]:
    """What a case needs measured: several cases may share one measurement."""
    return (item["model"], item["batch_size"], item["seq_len"], item["dtype"])


def measurement_id(item: Case) -> str:
    """The id of a case's measurement in harness_measure's input and output."""
    model, batch, seq, dtype = measurement_key(item)
    return f"{model}|b{batch}|t{seq}|{dtype}"


def measurement_requests(items: list[Case]) -> list[dict[str, Any]]:
    """harness_measure's requests for these cases, one per distinct measurement."""
    requests: dict[str, dict[str, Any]] = {}
    for item in items:
        key = measurement_id(item)
        if key not in requests:
            requests[key] = {
                "id": key,
                "config": catalog.get_config(item["model"]),
                "batch_size": item["batch_size"],
                "seq_len": item["seq_len"],
                "dtype": item["dtype"],
            }
    return list(requests.values())


def call_input(item: Case) -> dict[str, Any]:
    """What the learner-side harness receives for one case: the call's arguments, nothing else."""
    data: dict[str, Any] = {
        "name": item["name"],
        "function": item["function"],
        "config": catalog.get_config(item["model"]),
        "seq_len": item["seq_len"],
        "dtype": item["dtype"],
    }
    if item["function"] == BYTES:
        data["batch_size"] = item["batch_size"]
    else:
        data["kv_budget_bytes"] = item["kv_budget_bytes"]
    return data


def load_public_expected(path: Path = PUBLIC_EXPECTED_PATH) -> dict[str, Any]:
    """The committed public table: {"versions": {...}, "cases": {name: {"expected": int, ...}}}."""
    with path.open(encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict) or not isinstance(data.get("cases"), dict):
        raise ValueError(f"{path} is not a public expected-value table")
    return data


def public_examples(path: Path = PUBLIC_EXPECTED_PATH) -> list[dict[str, Any]]:
    """The public cases with their expected values, for the spec page."""
    table = load_public_expected(path)["cases"]
    examples = []
    for item in public_cases():
        row = table.get(item["name"], {})
        examples.append(
            {
                "name": item["name"],
                "function": item["function"],
                "model": item["model"],
                "config": catalog.get_config(item["model"]),
                "batch_size": item["batch_size"] if item["function"] == BYTES else None,
                "seq_len": item["seq_len"],
                "dtype": item["dtype"],
                "kv_budget_bytes": item["kv_budget_bytes"],
                "expected": row.get("expected"),
                "why": item["why"],
            }
        )
    return examples


def table_measurements(versions: Mapping[str, str], path: Path = PUBLIC_EXPECTED_PATH) -> dict[str, dict[str, Any]]:
    """The public table's measurements, as harness_measure would report them, when they are valid
    for a runner with these torch and transformers versions; {} when the versions differ.

    A row counts only if its config is still the catalog's (same hash). The measurement is
    deterministic for given versions, and a runner-env test re-measures every row, so a grader may
    take these instead of measuring the public cases again.
    """
    table = load_public_expected(path)
    pinned = table.get("versions", {})
    if any(pinned.get(name) != versions.get(name) for name in ("torch", "transformers")):
        return {}
    rows: dict[str, dict[str, Any]] = {}
    for item in public_cases():
        row = table["cases"].get(item["name"])
        if not isinstance(row, dict) or row.get("measurement_id") != measurement_id(item):
            continue
        if row.get("config_sha256") != catalog.config_sha256(catalog.get_config(item["model"])):
            continue
        rows[measurement_id(item)] = {"bytes": int(row["measured_bytes"]), "method": f"public table: {row['method']}"}
    return rows


def _write_public_table() -> None:  # pragma: no cover - run by hand in the runner env
    from portfolio.runner.kv import measure, reference

    rows: dict[str, Any] = {}
    measured: dict[tuple[str, int, int, str], dict[str, Any]] = {}
    for item in public_cases():
        key = measurement_key(item)
        if key not in measured:
            measured[key] = measure.measure(catalog.get_config(item["model"]), *key[1:])
        result = measured[key]
        expected = (
            result["bytes"]
            if item["function"] == BYTES
            else reference.concurrency_from_bytes(result["bytes"], int(item["kv_budget_bytes"] or 0))
        )
        rows[item["name"]] = {
            "expected": expected,
            "measured_bytes": result["bytes"],
            "measurement_id": measurement_id(item),
            "config_sha256": result["config_sha256"],
            "method": result["method"],
        }
    table = {
        "about": "Measured by `python -m portfolio.runner.kv.cases --write`; checked by tests/runner/kv.",
        "versions": measure.versions(),
        "cases": rows,
    }
    PUBLIC_EXPECTED_PATH.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    import sys

    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m portfolio.runner.kv.cases --write")
    _write_public_table()
