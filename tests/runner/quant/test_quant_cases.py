"""The quantizer's case table, claims schema and storage rule (pure Python, no runner env)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from portfolio.runner.quant import cases
from tests.runner.quant.helpers import CLAIMS


def _claims(name: str = "correct") -> dict[str, Any]:
    return json.loads((CLAIMS / f"{name}.json").read_text(encoding="utf-8"))


def test_every_case_has_a_category_and_a_hint_and_names_are_unique() -> None:
    names = [case["name"] for case in cases.all_cases()]
    assert len(names) == len(set(names))
    for case in cases.all_cases():
        assert case["category"] in cases.HINTS and case["hint"] == cases.HINTS[case["category"]]
    assert {c["category"] for c in cases.public_cases()} == set(cases.HINTS)
    assert len(cases.public_cases()) == 11 and len(cases.hidden_cases()) == 10


def test_every_mistake_is_caught_by_a_public_and_a_hidden_case_except_claims() -> None:
    for mistake in cases.MISTAKES:
        public = [c for c in cases.public_cases() if mistake in c["catches"]]
        hidden = [c for c in cases.hidden_cases() if mistake in c["catches"]]
        assert public, mistake
        assert hidden or mistake == cases.OVERSTATED_CLAIMS, mistake


def test_hidden_case_names_give_nothing_away() -> None:
    for case in cases.hidden_cases():
        assert case["name"].startswith("hidden-") and case["setting"] not in case["name"]


def test_the_models_partial_groups() -> None:
    shapes = cases.linear_shapes("llama")
    assert shapes["model.layers.0.mlp.down_proj"] == (256, 704) and len(shapes) == 14
    assert any(c["category"] == cases.PARTIAL_GROUP for c in cases.all_cases() if c["setting"] == "int4-g128")
    assert not any(c["category"] == cases.PARTIAL_GROUP for c in cases.all_cases() if c["setting"] == "int8-g64")


def test_storage_bound() -> None:
    # 256 x 704 at 4 bits, groups of 128: 6 groups per row (the last padded), 8 bytes each, + 64.
    assert cases.storage_bound((256, 704), 4, 128) == 256 * 768 // 2 + 256 * 6 * 8 + 64
    assert cases.storage_bound((8, 64), 3, 64) == 8 * 64 * 3 // 8 + 8 * 8 + 64


def test_valid_claims() -> None:
    claims, errors = cases.validate_claims(_claims())
    assert errors == [] and claims is not None
    assert set(claims["by_setting"]) == {s["key"] for s in cases.public_settings()}
    assert claims["by_setting"]["int4-g128"]["bits_per_weight"] == 4.253


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (lambda c: c.pop("scheme"), "scheme", "is required"),
        (lambda c: c.update(scheme="both"), "scheme", "must be one of"),
        (lambda c: c.update(extra=1), "extra", "is not a field"),
        (lambda c: c["settings"][0].update(top1_agreement=1.5), "settings[0].top1_agreement", "from 0 to 1"),
        (lambda c: c["settings"][0].update(kl_divergence="small"), "settings[0].kl_divergence", "must be a number"),
        (lambda c: c["settings"][1].update(bits=5), "settings[1].bits", "must be one of"),
        (lambda c: c["settings"].pop(1), "settings", "bits=8, group_size=64"),
        (lambda c: c.update(method=""), "method", "1 to 500 characters"),
    ],
)
def test_invalid_claims_name_the_field(change: Any, path: str, message: str) -> None:
    data = copy.deepcopy(_claims())
    change(data)
    claims, errors = cases.validate_claims(data)
    assert claims is None
    assert any(e["path"] == path and message in e["message"] for e in errors), errors


def test_the_schema_and_the_validator_agree_on_fields() -> None:
    schema = cases.CLAIMS_SCHEMA
    assert set(schema["required"]) <= set(schema["properties"])
    assert tuple(schema["properties"]["settings"]["items"]["required"][2:]) == cases.CLAIM_FIELDS
    assert set(cases.CLAIM_TOLERANCE) == set(cases.CLAIM_FIELDS)


def test_claim_tolerances() -> None:
    assert cases.claim_matches("bits_per_weight", 4.25, 4.253)
    assert not cases.claim_matches("bits_per_weight", 4.25, 8.3)
    assert cases.claim_matches("kl_divergence", 0.0001, 0.0009)  # under the floor
    assert not cases.claim_matches("kl_divergence", 0.01, 0.22)
    assert cases.claim_matches("top1_agreement", 0.6, 0.625) and not cases.claim_matches("top1_agreement", 0.99, 0.625)


def test_public_examples_for_the_spec_page() -> None:
    examples = cases.public_examples()
    assert [e["setting"] for e in examples] == ["int4-g128", "int8-g64"]
    assert examples[0]["reference"]["asymmetric"]["weight_rel_error"] > 0
    assert examples[0]["config"]["model_type"] == "llama" and examples[0]["layers"] == 14
