"""The pure-Python half of the KV grader: reference, catalog, reduce, cases, compare (no torch)."""

from __future__ import annotations

import importlib.util
import itertools
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from portfolio.runner.kv import cases, catalog, grade, reference
from tests.runner.kv.helpers import SUBMISSIONS

DTYPES = ("float32", "float16", "bfloat16")


# ---- reference: values worked out by hand from the published configs --------------------------


def test_llama_3_1_8b_holds_128_kib_per_token_in_bf16() -> None:
    config = catalog.get_config("llama-3.1-8b")
    # 32 layers x 8 KV heads x 128 dims x (K and V) x 2 bytes
    assert reference.kv_cache_bytes(config, 1, 1, "bfloat16") == 32 * 8 * 128 * 2 * 2 == 131072
    assert reference.kv_cache_bytes(config, 1, 8192, "bfloat16") == 2**30


def test_deepseek_v3_latent_cache_per_token() -> None:
    config = catalog.get_config("deepseek-v3")
    # 61 layers x (512 latent + 64 rope key) x 2 bytes: no factor 2, no heads
    assert reference.kv_cache_bytes(config, 1, 1, "bfloat16") == 61 * 576 * 2 == 70272
    assert reference.summary(config)["attention"] == "MLA"


def test_sliding_window_keeps_window_minus_one_tokens() -> None:
    config = catalog.get_config("mistral-7b-v0.1")
    per_token = 32 * 8 * 128 * 2 * 2
    assert reference.kv_cache_bytes(config, 1, 4095, "float16") == 4095 * per_token
    assert reference.kv_cache_bytes(config, 1, 4096, "float16") == 4095 * per_token
    assert reference.kv_cache_bytes(config, 1, 100_000, "float16") == 4095 * per_token
    assert reference.kv_cache_bytes(config, 1, 100, "float16") == 100 * per_token


def test_gemma_head_dim_is_the_config_value_not_hidden_over_heads() -> None:
    gemma2 = catalog.get_config("gemma-2-9b")
    gemma3 = catalog.get_config("gemma-3-1b")
    assert gemma2["hidden_size"] // gemma2["num_attention_heads"] == 224
    assert gemma3["hidden_size"] // gemma3["num_attention_heads"] == 288
    assert reference.head_dim(gemma2) == reference.head_dim(gemma3) == 256


def test_hybrid_layer_counts() -> None:
    gemma2 = reference.summary(catalog.get_config("gemma-2-9b"))
    gemma3 = reference.summary(catalog.get_config("gemma-3-1b"))
    assert gemma2["layers_by_kind"] == {reference.SLIDING: 21, reference.FULL: 21}
    assert gemma3["layers_by_kind"] == {reference.SLIDING: 22, reference.FULL: 4}
    plan = reference.layer_plan(catalog.get_config("gemma-3-1b"))
    assert [i for i, spec in enumerate(plan) if spec.kind == reference.FULL] == [5, 11, 17, 23]


def test_added_layer_types_follow_the_published_rules() -> None:
    """The catalog adds layer_types to Gemma 2/3; without them, the published keys give the same list."""
    for name in ("gemma-2-9b", "gemma-3-1b"):
        entry = catalog.entry(name)
        assert entry["added"] == ["layer_types"]
        bare = dict(entry["config"])
        del bare["layer_types"]
        assert reference.layer_types(bare) == entry["config"]["layer_types"]


def test_qwen_window_is_off_and_falcon_has_one_kv_head() -> None:
    qwen = catalog.get_config("qwen2.5-7b")
    assert reference.layer_types(qwen) == [reference.FULL] * 28
    assert reference.kv_cache_bytes(qwen, 1, 200_000, "bfloat16") == 200_000 * 28 * 4 * 128 * 2 * 2
    falcon = catalog.get_config("falcon-7b")
    assert "num_key_value_heads" not in falcon
    assert (reference.kv_heads(falcon), reference.head_dim(falcon)) == (1, 64)


def test_batch_and_dtype_scale_linearly() -> None:
    for name in catalog.names():
        config = catalog.get_config(name)
        one = reference.kv_cache_bytes(config, 1, 5000, "float32")
        assert reference.kv_cache_bytes(config, 3, 5000, "float32") == 3 * one
        assert reference.kv_cache_bytes(config, 3, 5000, "bfloat16") == 3 * one // 2


def test_max_concurrency() -> None:
    config = catalog.get_config("llama-3.1-8b")
    assert reference.max_concurrency(config, 8192, "bfloat16", 60_000_000_000) == 55
    assert reference.max_concurrency(config, 8192, "bfloat16", 2**30 - 1) == 0
    assert reference.concurrency_from_bytes(2**30, 60_000_000_000) == 55


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model_type": "gpt2"}, "not supported"),
        ({"num_hidden_layers": 0}, "positive integer"),
        ({"sliding_window": 1}, "at least 2"),
        ({"layer_types": ["sliding_attention"]}, "one entry per layer"),
    ],
)
def test_reference_refuses_what_it_cannot_read(change: dict[str, Any], message: str) -> None:
    config = catalog.get_config("mistral-7b-v0.1") | change
    with pytest.raises(reference.UnsupportedConfig, match=message):
        reference.kv_cache_bytes(config, 1, 10, "float32")


def test_reference_refuses_bad_arguments() -> None:
    config = catalog.get_config("llama-3.1-8b")
    with pytest.raises(ValueError, match="dtype"):
        reference.kv_cache_bytes(config, 1, 10, "float8")
    with pytest.raises(ValueError, match="batch_size"):
        reference.kv_cache_bytes(config, 0, 10, "float32")
    with pytest.raises(ValueError, match="seq_len"):
        reference.kv_cache_bytes(config, 1, True, "float32")


def test_semantics_text_states_the_rules() -> None:
    text = reference.SEMANTICS
    for phrase in ("window - 1", "kv_lora_rank", "head_dim", "layer_types", "multi_query", "1%"):
        assert phrase in text


# ---- catalog and reduce -------------------------------------------------------------------------


def test_catalog_entries_are_complete() -> None:
    kinds = set()
    for name in catalog.names():
        entry = catalog.entry(name)
        assert entry["source"].startswith("https://huggingface.co/") and entry["source"].endswith("config.json")
        assert entry["config"]["model_type"] in reference.SUPPORTED_MODEL_TYPES
        kinds.add(reference.attention_kind(entry["config"]).split(",")[0])
    assert {"MHA", "GQA", "MQA", "MLA"} <= kinds
    assert len(catalog.names()) >= 9


def test_catalog_hands_out_copies() -> None:
    config = catalog.get_config("gemma-2-9b")
    config["layer_types"].append("oops")
    config["num_hidden_layers"] = 1
    assert catalog.get_config("gemma-2-9b")["num_hidden_layers"] == 42
    assert len(catalog.get_config("gemma-2-9b")["layer_types"]) == 42


@pytest.mark.parametrize("name", catalog.names())
@pytest.mark.parametrize("keep_width", [False, True])
def test_reduce_keeps_every_layer_signature_and_scales_back_exactly(name: str, keep_width: bool) -> None:
    config = catalog.get_config(name)
    reduction = catalog.reduce(config, keep_width=keep_width)
    small = reduction["config"]
    full_plan = reference.layer_plan(config)
    small_plan = reference.layer_plan(small)
    assert sum(reduction["layer_counts"]) == len(full_plan) == reduction["full_layers"]
    assert len(small_plan) == reduction["layers"] == small["num_hidden_layers"]
    assert {s.signature() for s in small_plan} == {s.signature() for s in full_plan}
    for batch, seq, dtype in itertools.product((1, 3), (1, 300, 511, 512, 513, 4095, 4096, 9000), DTYPES):
        per_layer = reference.layer_bytes(small, batch, seq, dtype)
        scaled = sum(b * n for b, n in zip(per_layer, reduction["layer_counts"], strict=True))
        assert scaled == reference.kv_cache_bytes(config, batch, seq, dtype)
    if not keep_width:
        assert small["vocab_size"] <= catalog.SMALL_VOCAB
        assert small["hidden_size"] <= max(64, small["num_attention_heads"] * catalog.SMALL_HIDDEN)


def test_reduce_examples() -> None:
    counts = {name: catalog.reduce(catalog.get_config(name))["layer_counts"] for name in catalog.names()}
    assert counts["llama-3.1-8b"] == [32]
    assert counts["gemma-2-9b"] == [21, 21]
    assert counts["gemma-3-1b"] == [22, 4]
    assert counts["deepseek-v3"] == [61]
    gemma3 = catalog.reduce(catalog.get_config("gemma-3-1b"))
    assert gemma3["layer_scale"] is None
    assert gemma3["config"]["layer_types"] == [reference.SLIDING, reference.FULL]
    assert gemma3["config"]["head_dim"] == 256 and gemma3["config"]["num_key_value_heads"] == 1


def test_gpu_size_estimate_sends_only_models_that_fit_to_full_size() -> None:
    """measure.py builds a model whole on a GPU only if this over-estimate of its weights fits."""
    from portfolio.runner.kv import measure  # importable without torch: torch loads inside functions

    estimate = {name: measure._estimated_weight_bytes(catalog.get_config(name), "bfloat16") for name in catalog.names()}
    assert 16e9 < estimate["llama-3.1-8b"] < 20e9  # 8.0B parameters
    assert 140e9 < estimate["llama-3.1-70b"] < 180e9  # 70.6B
    assert estimate["deepseek-v3"] > 1.3e12  # 671B
    assert estimate["gemma-3-1b"] < 4e9


# ---- cases ----------------------------------------------------------------------------------------


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"kv_submission_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _answer(module: ModuleType, item: cases.Case) -> int:
    config = catalog.get_config(item["model"])
    if item["function"] == cases.BYTES:
        return int(module.kv_cache_bytes(config, item["batch_size"], item["seq_len"], item["dtype"]))
    return int(module.max_concurrency(config, item["seq_len"], item["dtype"], item["kv_budget_bytes"]))


def _reference_answer(item: cases.Case) -> int:
    config = catalog.get_config(item["model"])
    one = reference.kv_cache_bytes(config, item["batch_size"], item["seq_len"], item["dtype"])
    return grade.expected_value(item, one)


def test_case_names_are_unique_and_refer_to_the_catalog() -> None:
    names = [item["name"] for item in cases.all_cases()]
    assert len(names) == len(set(names))
    for item in cases.all_cases():
        assert item["model"] in catalog.names()
        assert set(item["catches"]) <= set(cases.MISTAKES)
        assert item["dtype"] in DTYPES
    assert len(cases.public_cases()) >= 5 and len(cases.hidden_cases()) >= 8
    assert {cases.BYTES, cases.CONCURRENCY} <= {item["function"] for item in cases.hidden_cases()}


def test_call_inputs_carry_no_expected_value() -> None:
    for item in cases.all_cases():
        data = cases.call_input(item)
        assert set(data) <= {"name", "function", "config", "batch_size", "seq_len", "dtype", "kv_budget_bytes"}
        assert data["config"] == catalog.get_config(item["model"])


def test_case_set_covers_every_attention_kind() -> None:
    kinds = {reference.attention_kind(catalog.get_config(item["model"])) for item in cases.all_cases()}
    joined = " | ".join(sorted(kinds))
    for word in ("MHA", "GQA", "MQA", "MLA", "sliding window on every layer", "hybrid"):
        assert word in joined
    windows = {
        item["name"]: (item["seq_len"], reference.summary(catalog.get_config(item["model"]))["sliding_window"])
        for item in cases.all_cases()
    }
    assert any(w and seq > w for seq, w in windows.values())
    assert any(w and seq < w for seq, w in windows.values())
    assert {item["dtype"] for item in cases.all_cases()} == set(DTYPES)
    assert any(item["batch_size"] > 1 for item in cases.all_cases())


@pytest.mark.parametrize("mistake", cases.MISTAKES)
def test_each_mistake_fails_exactly_its_cases_in_arithmetic(mistake: str) -> None:
    """The quick check (reference values, no measurement); test_kv_pipeline does it end to end."""
    module = _load(SUBMISSIONS / f"{mistake}.py")
    failing = {
        item["name"]
        for item in cases.all_cases()
        if not grade.within(_answer(module, item), _reference_answer(item), grade.DEFAULT_TOLERANCE)
    }
    assert failing == {item["name"] for item in cases.all_cases() if mistake in item["catches"]}
    assert failing  # every mistake is caught by at least one case


@pytest.mark.parametrize("name", ["correct", "window_not_minus_one"])
def test_correct_calculators_pass_every_case_in_arithmetic(name: str) -> None:
    module = _load(SUBMISSIONS / f"{name}.py")
    for item in cases.all_cases():
        assert grade.within(_answer(module, item), _reference_answer(item), grade.DEFAULT_TOLERANCE), item["name"]


def test_public_table_lists_every_public_case_and_matches_the_reference() -> None:
    """The runner-env test compares the table with fresh measurement; this one with the arithmetic."""
    table = cases.load_public_expected()
    assert set(table["cases"]) == {item["name"] for item in cases.public_cases()}
    assert {"torch", "transformers"} <= set(table["versions"])
    for item in cases.public_cases():
        assert table["cases"][item["name"]]["expected"] == _reference_answer(item), item["name"]
    examples = cases.public_examples()
    assert [e["name"] for e in examples] == [item["name"] for item in cases.public_cases()]
    assert all(isinstance(e["expected"], int) for e in examples)


def test_table_measurements_need_the_same_versions_and_configs(tmp_path: Path) -> None:
    table = cases.load_public_expected()
    pinned = table["versions"]
    rows = cases.table_measurements(pinned)
    assert set(rows) == {cases.measurement_id(item) for item in cases.public_cases()}
    assert cases.table_measurements(pinned | {"transformers": "5.24.0"}) == {}
    assert cases.table_measurements(pinned | {"torch": "2.13.0+cu128"}) == {}
    # A row whose config no longer matches the catalog is not reused.
    first = next(iter(table["cases"]))
    table["cases"][first]["config_sha256"] = "0" * 64
    changed = tmp_path / "table.json"
    changed.write_text(json.dumps(table), encoding="utf-8")
    assert len(cases.table_measurements(pinned, changed)) == len(rows) - 1


# ---- compare ----------------------------------------------------------------------------------------


def _measured_by_reference(items: list[cases.Case]) -> dict[str, Any]:
    return {
        cases.measurement_id(item): {
            "bytes": reference.kv_cache_bytes(
                catalog.get_config(item["model"]), item["batch_size"], item["seq_len"], item["dtype"]
            )
        }
        for item in items
    }


def _ok(value: int) -> dict[str, Any]:
    return {"status": "ok", "value": value, "message": "", "elapsed_s": 0.0, "output_tail": ""}


def test_compare_tolerance_is_one_percent_inclusive() -> None:
    item = cases.case("llama-3.1-8b-8k-bf16")
    measured = _measured_by_reference([item])
    exact = 2**30
    for value, status in (
        (exact, "passed"),
        (exact + exact // 100, "passed"),
        (exact - exact // 100, "passed"),
        (exact + exact // 100 + 1, "failed"),
        (4 * exact, "failed"),
    ):
        result = grade.compare([item], {item["name"]: _ok(value)}, measured)
        assert result["tests"][0]["status"] == status, value
    failed = grade.compare([item], {item["name"]: _ok(4 * exact)}, measured)["tests"][0]
    assert failed["expected"] == exact and failed["observed"] == 4 * exact
    assert failed["rel_error"] == 3.0 and failed["message"] == "your answer is 300% more than the measured value"
    assert failed["details"]["category"] == item["category"]
    assert failed["details"]["hint"] == cases.CATEGORY_HINTS[item["category"]]
    assert failed["details"]["why"] == item["why"]


def test_relative_errors_read_as_plain_percentages() -> None:
    assert [grade.percent_text(x) for x in (0.0, 0.0042, 0.465, 23.9, 1e9)] == [
        "0.00%",
        "0.42%",
        "46.5%",
        "2,390%",
        "100,000,000,000%",
    ]


def test_every_case_has_a_category_with_a_hint() -> None:
    assert {c["category"] for c in cases.all_cases()} <= set(cases.CATEGORY_HINTS)
    assert all(c["category"] for c in cases.all_cases())


def test_compare_shows_nothing_of_a_hidden_case_but_the_verdict_and_error() -> None:
    item = cases.case("hidden-05")
    measured = _measured_by_reference([item])
    expected = measured[cases.measurement_id(item)]["bytes"]
    for value in (expected, expected * 2):
        test = grade.compare([item], {item["name"]: _ok(value)}, measured)["tests"][0]
        assert test["visibility"] == "hidden"
        assert test["expected"] is None and test["observed"] is None
        passed = test["status"] == "passed"
        assert set(test["details"]) == {"function", "model", "category"} | (set() if passed else {"hint"})
        assert str(expected) not in repr(test) and str(value) not in repr(test)
    assert test["status"] == "failed" and test["rel_error"] == 1.0 and test["message"] == "off by 100%"
    assert test["details"]["hint"] == cases.CATEGORY_HINTS[item["category"]]


def test_compare_reports_call_failures_as_errors_with_their_reason() -> None:
    item = cases.case("falcon-7b-batch8-fp32")
    measured = _measured_by_reference([item])
    result = {"status": "timeout", "value": None, "message": "kv_cache_bytes() did not return within 2 s"}
    test = grade.compare([item], {item["name"]: result}, measured)["tests"][0]
    assert test["status"] == "error" and test["message"].startswith("too slow: kv_cache_bytes()")
    missing = grade.compare([item], {}, measured)["tests"][0]
    assert missing["status"] == "error"


def test_compare_leaves_out_an_undefined_optional_function() -> None:
    items = [cases.case("llama-3.1-8b-8k-bf16"), cases.case("llama-3.1-8b-concurrency-8k")]
    measured = _measured_by_reference(items)
    observed = {
        items[0]["name"]: _ok(2**30),
        items[1]["name"]: {"status": "missing", "value": None, "message": "does not define max_concurrency()"},
    }
    result = grade.compare(items, observed, measured)
    assert [t["name"] for t in result["tests"]] == [items[0]["name"]]
    assert result["verdict"] == "passed" and result["score"] == 1.0
    assert result["metrics"]["skipped"] == [items[1]["name"]]
    assert "max_concurrency is not defined" in result["message"]
    observed[items[1]["name"]] = {"status": "missing", "value": None, "message": "x"}
    result = grade.compare([items[0]], {items[0]["name"]: {"status": "missing", "value": None}}, measured)
    assert result["tests"][0]["status"] == "error"  # kv_cache_bytes itself is not optional


def test_compare_refuses_to_grade_without_a_measurement() -> None:
    item = cases.case("hidden-01")
    with pytest.raises(grade.MissingMeasurement):
        grade.compare([item], {item["name"]: _ok(1)}, {})
    with pytest.raises(grade.MissingMeasurement):
        grade.compare([item], {item["name"]: _ok(1)}, {cases.measurement_id(item): {"error": "boom"}})
