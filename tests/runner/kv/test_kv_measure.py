"""The analytic reference against measurement of real transformers models (runner env).

Every check builds models from configs with random weights under RUNNER_PYTHON, through
harness_measure.py, and compares the cache bytes with reference.py:

* small configs of every attention kind, at full size, with the model's own attention kernel and
  with the skipped kernel, across batch sizes, lengths below and above the window, and dtypes;
  some leave keys out, so the class defaults of transformers are checked too;
* mid-size versions of every catalog config at their real depth, measured whole and reduced: the
  reduced measurement scaled back must equal the whole one;
* every catalog config through `reduce` (what the CPU grader does) against the reference;
* the public expected-value table against fresh measurement;
* on a GPU host only (-m gpu): the real-size catalog configs on CUDA.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from portfolio.runner.kv import cases, catalog, grade, reference
from tests.runner.kv.helpers import measure_requests

pytestmark = pytest.mark.runner_env


def _llama(**change: Any) -> dict[str, Any]:
    base = {
        "model_type": "llama",
        "hidden_size": 64,
        "intermediate_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 4,
        "vocab_size": 128,
        "max_position_embeddings": 8192,
    }
    return _apply(base, change)


def _apply(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """base with change applied; a value of ... removes the key."""
    config = dict(base)
    for key, value in change.items():
        if value is ...:
            config.pop(key, None)
        else:
            config[key] = value
    return config


_FALCON = {
    "model_type": "falcon",
    "hidden_size": 128,
    "num_attention_heads": 4,
    "num_hidden_layers": 2,
    "multi_query": True,
    "new_decoder_architecture": False,
    "parallel_attn": True,
    "alibi": False,
    "bias": False,
    "ffn_hidden_size": 32,
    "vocab_size": 128,
}
_MISTRAL = {
    "model_type": "mistral",
    "hidden_size": 64,
    "intermediate_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "sliding_window": 16,
    "vocab_size": 128,
    "max_position_embeddings": 8192,
}
_GEMMA2 = {
    "model_type": "gemma2",
    "hidden_size": 64,
    "intermediate_size": 32,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 32,
    "sliding_window": 16,
    "vocab_size": 128,
    "max_position_embeddings": 8192,
}
_GEMMA3 = _GEMMA2 | {"model_type": "gemma3_text", "num_hidden_layers": 7, "num_key_value_heads": 1}
_QWEN2 = {
    "model_type": "qwen2",
    "hidden_size": 64,
    "intermediate_size": 32,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "use_sliding_window": True,
    "sliding_window": 16,
    "max_window_layers": 2,
    "vocab_size": 128,
    "max_position_embeddings": 8192,
}
_MLA = {
    "model_type": "deepseek_v3",
    "hidden_size": 64,
    "intermediate_size": 32,
    "moe_intermediate_size": 16,
    "num_hidden_layers": 2,
    "first_k_dense_replace": 1,  # layer 1 is a MoE layer: experts must not touch the cache
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
    "q_lora_rank": 16,
    "kv_lora_rank": 32,
    "qk_nope_head_dim": 16,
    "qk_rope_head_dim": 8,
    "v_head_dim": 16,
    "n_routed_experts": 4,
    "num_experts_per_tok": 2,
    "n_shared_experts": 1,
    "n_group": 1,
    "topk_group": 1,
    "vocab_size": 128,
    "max_position_embeddings": 8192,
}

# name -> (config, sequence lengths). Windows are 16 unless the name says otherwise, so 10 is below
# the window, 15 and 16 sit at its edge, and 40 is past it.
KINDS: dict[str, tuple[dict[str, Any], tuple[int, ...]]] = {
    "mha": (_llama(), (10, 40)),
    "mha-no-kv-key": (_llama(num_key_value_heads=...), (10,)),
    "gqa-explicit-head-dim": (_llama(num_attention_heads=8, num_key_value_heads=2, head_dim=32), (10, 40)),
    "llama-with-window-key": (_llama(sliding_window=16), (10, 40)),
    "mqa-falcon": (dict(_FALCON), (10, 40)),
    "mqa-falcon-default-multi-query": (_apply(_FALCON, {"multi_query": ...}), (10,)),
    "mha-falcon": (_apply(_FALCON, {"multi_query": False}), (10,)),
    "falcon-40b-layout": (_apply(_FALCON, {"new_decoder_architecture": True, "num_kv_heads": 2}), (10,)),
    "sliding-mistral": (dict(_MISTRAL), (10, 15, 16, 17, 40)),
    "mistral-window-off": (_apply(_MISTRAL, {"sliding_window": None}), (40,)),
    "mistral-default-window-4096": (_apply(_MISTRAL, {"sliding_window": ...}), (4200,)),
    "mistral-default-kv-heads-8": (
        _apply(_MISTRAL, {"num_key_value_heads": ..., "num_attention_heads": 16, "head_dim": ...}),
        (10,),
    ),
    "hybrid-gemma2": (dict(_GEMMA2), (10, 40)),
    "gemma2-default-head-dim-256": (_apply(_GEMMA2, {"head_dim": ...}), (10,)),
    "hybrid-gemma3-pattern-3": (_GEMMA3 | {"sliding_window_pattern": 3}, (10, 40)),
    "hybrid-gemma3-default-pattern": (dict(_GEMMA3), (40,)),
    "qwen2-mixed-layers": (dict(_QWEN2), (10, 40)),
    "qwen2-window-off": (_QWEN2 | {"use_sliding_window": False}, (40,)),
    "qwen2-default-kv-heads-32": (_apply(_QWEN2, {"num_key_value_heads": ..., "num_attention_heads": 32}), (10,)),
    "mla": (dict(_MLA), (10, 40)),
    "mla-default-ranks": (_apply(_MLA, {"kv_lora_rank": ..., "qk_rope_head_dim": ...}), (10,)),
}
SETTINGS = ((1, "float32"), (3, "bfloat16"), (2, "float16"))


def _settings(name: str, index: int, seq: int) -> tuple[tuple[int, str], ...]:
    """Every batch/dtype setting for the main kinds; one, rotating, for the variants that only
    check a default or a switch (they would cost minutes in all combinations)."""
    if seq >= 1000:
        return SETTINGS[:1]
    if any(word in name for word in ("default", "off", "no-kv-key", "layout")):
        return (SETTINGS[(len(name) + index) % len(SETTINGS)],)
    return SETTINGS


def _kind_requests() -> list[dict[str, Any]]:
    requests = []
    for name, (config, lengths) in KINDS.items():
        for (index, seq), kernel in itertools.product(enumerate(lengths), ("model", "skip")):
            for batch, dtype in _settings(name, index, seq):
                requests.append(
                    {
                        "id": f"{name}|b{batch}|t{seq}|{dtype}|{kernel}",
                        "config": config,
                        "batch_size": batch,
                        "seq_len": seq,
                        "dtype": dtype,
                        "size": "full",
                        "attention": kernel,
                    }
                )
    return requests


@pytest.fixture(scope="module")
def kinds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    output, _ = measure_requests(_kind_requests(), tmp_path_factory.mktemp("kv-kinds"), device="cpu")
    return output


def test_reference_equals_measurement_for_every_attention_kind(kinds: dict[str, Any]) -> None:
    checked = 0
    for request in _kind_requests():
        result = kinds["measurements"][request["id"]]
        expected = reference.layer_bytes(request["config"], request["batch_size"], request["seq_len"], request["dtype"])
        measured = [layer["bytes"] for layer in result["layers"]]
        assert measured == expected, request["id"]
        assert result["bytes"] == sum(expected) and result["size"] == "full"
        for layer in result["layers"]:
            assert layer["keys"]["dtype"] == layer["values"]["dtype"] == request["dtype"], request["id"]
        checked += 1
    assert checked == len(_kind_requests())


def test_the_checks_do_tell_the_layouts_apart() -> None:
    """Guard against a vacuous comparison: the small configs differ where the traps are."""
    bytes_of = {name: reference.kv_cache_bytes(config, 1, 40, "float32") for name, (config, _) in KINDS.items()}
    assert bytes_of["mqa-falcon"] < bytes_of["mha-falcon"]
    assert bytes_of["falcon-40b-layout"] == bytes_of["mha-falcon"]
    assert bytes_of["sliding-mistral"] < bytes_of["mistral-window-off"]
    assert bytes_of["llama-with-window-key"] < bytes_of["mha"]
    assert bytes_of["qwen2-mixed-layers"] < bytes_of["qwen2-window-off"]
    config = KINDS["gqa-explicit-head-dim"][0]
    assert reference.head_dim(config) != config["hidden_size"] // config["num_attention_heads"]
    assert reference.kv_heads(KINDS["mistral-default-kv-heads-8"][0]) == 8
    assert reference.kv_heads(KINDS["qwen2-default-kv-heads-32"][0]) == 32
    assert reference.head_dim(KINDS["gemma2-default-head-dim-256"][0]) == 256
    assert reference.layer_types(KINDS["hybrid-gemma3-default-pattern"][0]).count(reference.FULL) == 1
    assert reference.layer_plan(KINDS["mla-default-ranks"][0])[0].k_dim == 512
    mistral_default = KINDS["mistral-default-window-4096"][0]
    assert reference.kv_cache_bytes(mistral_default, 1, 4200, "float32") < 4200 * 2 * 2 * 16 * 2 * 4


def test_skipping_the_attention_kernel_leaves_the_cache_unchanged(kinds: dict[str, Any]) -> None:
    results = kinds["measurements"]
    pairs = 0
    for request in _kind_requests():
        if request["attention"] != "model":
            continue
        skipped = results[request["id"].removesuffix("|model") + "|skip"]
        model = results[request["id"]]
        assert [layer["keys"] for layer in skipped["layers"]] == [layer["keys"] for layer in model["layers"]]
        assert [layer["values"] for layer in skipped["layers"]] == [layer["values"] for layer in model["layers"]]
        assert skipped["bytes"] == model["bytes"]
        pairs += 1
    assert pairs == len(_kind_requests()) // 2
    # Falcon never goes through transformers' attention interface: it is measured with its own kernel.
    assert results["mqa-falcon|b1|t10|float32|skip"]["attention"] == "model"
    assert results["mla|b1|t10|float32|skip"]["attention"] == "skip"


def test_sliding_layers_keep_window_minus_one_positions(kinds: dict[str, Any]) -> None:
    results = kinds["measurements"]
    for seq, kept in ((10, 10), (15, 15), (16, 15), (17, 15), (40, 15)):
        layer = results[f"sliding-mistral|b1|t{seq}|float32|model"]["layers"][0]
        assert layer["class"] == "DynamicSlidingWindowLayer" and layer["sliding_window"] == 16
        assert layer["keys"]["shape"] == [1, 2, kept, 16], seq
    # Right after a prefill past the window, the trimmed tensors are views of the full-length ones.
    past = results["sliding-mistral|b1|t40|float32|model"]
    assert past["storage_bytes"] == past["bytes"] * 40 // 15
    assert results["mha|b1|t40|float32|model"]["storage_bytes"] == results["mha|b1|t40|float32|model"]["bytes"]


def test_mla_caches_the_latent_not_per_head_keys_and_values(kinds: dict[str, Any]) -> None:
    layers = kinds["measurements"]["mla|b3|t40|bfloat16|model"]["layers"]
    assert [layer["keys"]["shape"] for layer in layers] == [[3, 1, 40, 32]] * 2
    assert [layer["values"]["shape"] for layer in layers] == [[3, 1, 40, 8]] * 2


# ---- reduce: measured both ways at the real depth ----------------------------------------------------


def _midsize(name: str) -> dict[str, Any]:
    """The catalog config at its real depth, layer pattern, windows and head sizes, with a width
    small enough to build whole on a CPU (and KV heads cut to at most 2, keeping MHA/GQA/MQA)."""
    config = catalog.get_config(name)
    kind = reference.model_type(config)
    mid = _apply(config, dict.fromkeys(("bos_token_id", "eos_token_id", "pad_token_id"), ...))
    mid["vocab_size"] = 512
    if kind == "falcon":
        mid.update(num_attention_heads=4, hidden_size=4 * reference.head_dim(config), ffn_hidden_size=64)
    elif kind == "deepseek_v3":
        mid.update(num_attention_heads=2, num_key_value_heads=2, q_lora_rank=32, hidden_size=64)
        mid.update(intermediate_size=64, moe_intermediate_size=16, n_routed_experts=4, num_experts_per_tok=2)
        mid.update(n_group=1, topk_group=1)  # first_k_dense_replace stays 3: 58 MoE layers
    else:
        kv = min(reference.kv_heads(config), 2)
        heads = kv if reference.kv_heads(config) == config["num_attention_heads"] else 2 * kv
        mid.update(num_attention_heads=heads, num_key_value_heads=kv, head_dim=reference.head_dim(config))
        mid.update(hidden_size=64, intermediate_size=64)
    return mid


def _mid_seq(config: dict[str, Any]) -> int:
    window = reference.summary(config)["sliding_window"]
    return window + 104 if window and window < 8192 else 300


def _mid_batch(config: dict[str, Any]) -> int:
    return 2 if _mid_seq(config) <= 1000 else 1


def test_midsize_configs_keep_the_catalog_structure() -> None:
    for name in catalog.names():
        config, mid = catalog.get_config(name), _midsize(name)
        assert reference.layer_types(mid) == reference.layer_types(config)
        full, small = reference.layer_plan(config)[0], reference.layer_plan(mid)[0]
        assert (small.k_dim, small.v_dim, small.window) == (full.k_dim, full.v_dim, full.window)
        assert reference.attention_kind(mid).split(",")[0] == reference.attention_kind(config).split(",")[0]


@pytest.mark.slow
def test_reduced_measurement_scaled_back_equals_the_whole_model(tmp_path: Path) -> None:
    requests = []
    for name in catalog.names():
        mid = _midsize(name)
        for size in ("full", "reduced"):
            requests.append(
                {"id": f"{name}|{size}", "config": mid, "batch_size": _mid_batch(mid), "seq_len": _mid_seq(mid)}
                | {"dtype": "float32", "size": size}
            )
    output, _ = measure_requests(requests, tmp_path, device="cpu")
    results = output["measurements"]
    for name in catalog.names():
        whole, reduced = results[f"{name}|full"], results[f"{name}|reduced"]
        mid = _midsize(name)
        assert whole["size"] == "full" and reduced["size"] == "reduced"
        assert len(whole["layers"]) == mid["num_hidden_layers"] > len(reduced["layers"]), name
        expected = reference.kv_cache_bytes(mid, _mid_batch(mid), _mid_seq(mid), "float32")
        assert reduced["bytes"] == whole["bytes"] == expected, name


def test_catalog_configs_measured_through_reduce_equal_the_reference(tmp_path: Path) -> None:
    requests = []
    for name, (batch, seq, dtype) in itertools.product(catalog.names(), ((1, 5000, "float32"), (2, 700, "bfloat16"))):
        requests.append(
            {"id": f"{name}|{seq}", "config": catalog.get_config(name), "batch_size": batch, "seq_len": seq}
            | {"dtype": dtype}
        )
    output, _ = measure_requests(requests, tmp_path, device="cpu")
    for request in requests:
        result = output["measurements"][request["id"]]
        assert result["size"] == "reduced" and result["device"] == "cpu"
        config = request["config"]
        expected = reference.kv_cache_bytes(config, request["batch_size"], request["seq_len"], request["dtype"])
        assert result["bytes"] == expected, request["id"]
        assert result["config_sha256"] == catalog.config_sha256(config)


# ---- the cases' truth ---------------------------------------------------------------------------------


def test_public_table_equals_fresh_measurement(truth: dict[str, Any]) -> None:
    table = cases.load_public_expected()
    measurements = truth["output"]["measurements"]
    for item in cases.public_cases():
        measured = measurements[cases.measurement_id(item)]["bytes"]
        assert table["cases"][item["name"]]["expected"] == grade.expected_value(item, measured), item["name"]
    versions = truth["output"]["versions"]
    assert {k: table["versions"][k] for k in ("torch", "transformers")} == {
        k: versions[k] for k in ("torch", "transformers")
    }, "the table was measured with other versions: regenerate it (python -m portfolio.runner.kv.cases --write)"


def test_every_case_measurement_equals_the_reference(truth: dict[str, Any]) -> None:
    measurements = truth["output"]["measurements"]
    assert len(measurements) == truth["requests"]
    for item in cases.all_cases():
        result = measurements[cases.measurement_id(item)]
        config = catalog.get_config(item["model"])
        assert result["bytes"] == reference.kv_cache_bytes(config, item["batch_size"], item["seq_len"], item["dtype"])


# ---- GPU: the real-size models ------------------------------------------------------------------------


@pytest.mark.gpu
def test_real_size_catalog_configs_on_cuda(tmp_path: Path) -> None:
    """Full-size models with their own attention kernel on a GPU host (depth-reduced at full width
    when the weights would not fit: DeepSeek-V3, Llama 3.1 70B on one GPU)."""
    requests = []
    for name, (batch, seq, dtype) in itertools.product(catalog.names(), ((1, 8192, "bfloat16"), (4, 5000, "float16"))):
        requests.append(
            {"id": f"{name}|{batch}|{seq}", "config": catalog.get_config(name), "batch_size": batch, "seq_len": seq}
            | {"dtype": dtype, "attention": "model"}
        )
    output, _ = measure_requests(requests, tmp_path, device="cuda")
    sizes = {}
    for request in requests:
        result = output["measurements"][request["id"]]
        assert result["device_kind"] == "cuda" and result["attention"] == "model"
        config = request["config"]
        expected = reference.kv_cache_bytes(config, request["batch_size"], request["seq_len"], request["dtype"])
        assert result["bytes"] == expected, request["id"]
        sizes[request["id"]] = result["size"]
    assert sizes["llama-3.1-8b|1|8192"] == "full"
    assert sizes["deepseek-v3|1|8192"] == "depth"
