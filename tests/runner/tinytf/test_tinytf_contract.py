"""The tiny transformer contract and case table, standard library only (no torch needed)."""

from __future__ import annotations

import json

import pytest

from portfolio.runner.kv import reference as kv_reference
from portfolio.runner.tinytf import cases, contract


def test_every_case_config_is_valid_and_every_check_has_a_category_and_hint() -> None:
    for name, config in cases.CONFIGS.items():
        assert contract.validate_config(config) == config, name
    for item in cases.all_cases():
        assert item["check"] in cases.CHECKS and item["config"] in cases.CONFIGS
        assert cases.category(item) and cases.hint(item)


def test_case_names_are_unique_and_hidden_ones_say_nothing_in_their_name() -> None:
    names = [item["name"] for item in cases.all_cases()]
    assert len(names) == len(set(names))
    assert all(item["name"].startswith("hidden-") for item in cases.hidden_cases())
    assert len(cases.public_cases()) == 12 and len(cases.hidden_cases()) == 15


def test_every_typical_mistake_is_caught_by_a_public_and_a_hidden_case() -> None:
    for mistake in cases.MISTAKES:
        catching = [item for item in cases.all_cases() if mistake in item["catches"]]
        assert {item["visibility"] for item in catching} == {cases.VISIBLE, cases.HIDDEN}, mistake


def test_the_learner_input_holds_no_expectation() -> None:
    for item in cases.all_cases():
        data = cases.learner_input(item)
        assert not {"catches", "why", "visibility", "expected"} & set(data)
        text = json.dumps(data)
        assert item["why"] not in text


def test_parameter_count_of_the_gqa_config_by_hand() -> None:
    config = cases.CONFIGS["gqa-rope"]
    d, v, f, kv = 32, 48, 64, 2 * 8
    per_block = d + (d * d + 2 * kv * d + d * d) + d + 3 * d * f
    assert contract.parameter_count(config) == v * d + 2 * per_block + d + v * d


def test_tied_layernorm_layout_has_biases_a_position_table_and_no_lm_head() -> None:
    names = dict(contract.parameter_layout(cases.CONFIGS["mha-learned-tied"]))
    assert names["pos_emb.weight"] == (32, 32) and "blocks.1.mlp_norm.bias" in names
    assert "lm_head.weight" not in names


def test_cache_bytes_is_the_09_formula() -> None:
    config = cases.CONFIGS["mqa-rope-tied"]
    assert contract.cache_bytes(config, 3, 9) == 2 * 3 * 1 * 8 * 9 * 3 * kv_reference.dtype_bytes("float32")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"n_kv_heads": 3}, "n_kv_heads must divide"),
        ({"norm": "batchnorm"}, "config.norm"),
        ({"d_model": 30}, "d_model"),
        ({"vocab_size": True}, "vocab_size"),
    ],
)
def test_bad_configs_are_refused_with_the_key(change: dict, message: str) -> None:
    with pytest.raises(contract.ConfigError, match=message):
        contract.validate_config({**cases.CONFIGS["gqa-rope"], **change})
