"""End to end without the sandbox: the prepare step, the learner's quantize and dequantize steps,
the truth step and grade.compare, chained as graders/quantizer.py chains them (runner env)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from portfolio.runner.quant import cases
from tests.runner.quant.helpers import CLAIMS, SUBMISSIONS, failing, grade_submission, show, with_claims

pytestmark = pytest.mark.runner_env

ALL = cases.all_cases()
Graded = Callable[[str], dict[str, Any]]


def test_a_correct_quantizer_passes_every_case(graded: Graded) -> None:
    result = graded("correct")
    assert failing(result) == set(), show(result)
    assert result["verdict"] == "passed" and result["score"] == 1.0 and len(result["tests"]) == len(ALL)
    assert result["metrics"]["scheme"] == "asymmetric" and result["metrics"]["claims_valid"]
    # Every claim is shown beside its measurement.
    rows = result["metrics"]["claims"]
    assert len(rows) == len(cases.public_settings()) * len(cases.CLAIM_FIELDS)
    assert all(row["matches"] for row in rows)
    for test in result["tests"]:
        assert test["details"]["category"] and test["details"]["hint"]


@pytest.mark.parametrize("mistake", [m for m in cases.MISTAKES if m != cases.OVERSTATED_CLAIMS])
def test_each_typical_mistake_fails_exactly_its_cases(graded: Graded, mistake: str) -> None:
    result = graded(mistake)
    expected = {item["name"] for item in ALL if mistake in item["catches"]}
    assert expected and failing(result) == expected, show(result)
    assert result["verdict"] == "failed"


def test_claims_that_overstate_the_quality_fail_the_claims_cases(tmp_path: Path, graded: Graded) -> None:
    result = with_claims(graded("correct"), tmp_path, CLAIMS / "overstated.json")
    expected = {item["name"] for item in ALL if cases.OVERSTATED_CLAIMS in item["catches"]}
    assert failing(result) == expected, show(result)
    claims = next(t for t in result["tests"] if t["name"] == "int4-g128-claims")
    assert "kl_divergence: claimed 0.01, measured" in claims["message"]
    assert claims["details"]["claims"]["top1_agreement"]["matches"] is False


def test_without_claims_only_the_claims_cases_fail_and_say_why(tmp_path: Path, graded: Graded) -> None:
    result = with_claims(graded("correct"), tmp_path, None)
    assert failing(result) == {item["name"] for item in ALL if item["category"] == cases.CLAIMS}
    assert all(
        "claims.json" in t["message"] and "missing" in t["message"] for t in result["tests"] if t["status"] != "passed"
    )


def test_learner_errors_are_reported_per_case(tmp_path: Path, prepared: dict[str, Any]) -> None:
    source = (SUBMISSIONS / "correct.py").read_text(encoding="utf-8")
    source = source.replace(
        "def quantize(weight, bits, group_size):\n",
        "def quantize(weight, bits, group_size):\n    if bits == 3:\n        raise ValueError('3 bits are not supported')\n    if group_size == 64:\n        return [weight]\n",
    )
    source = source.replace(
        "def qmatmul(x, packed, bits, group_size, shape):\n",
        "def qmatmul(x, packed, bits, group_size, shape):\n    if bits == 4:\n        while True:\n            pass\n",
    )
    # 2 s, not less: the working calls must fit too, and on a loaded 2-core machine 0.5 s did not.
    result = grade_submission(
        tmp_path, prepared, {"quantizer.py": source, "claims.json": CLAIMS / "correct.json"}, call_timeout_s=2
    )
    by_name = {t["name"]: t for t in result["tests"]}
    assert by_name["int8-g64-reconstruction"]["status"] == "error"
    assert by_name["int8-g64-reconstruction"]["message"].startswith(
        "quantize() failed on model.layers.0.self_attn.q_proj: quantize returned list"
    )
    assert by_name["hidden-07"]["status"] == "error" and "3 bits are not supported" in by_name["hidden-07"]["message"]
    assert (
        by_name["int4-g128-qmatmul"]["status"] == "error"
        and "did not return within 2 s" in by_name["int4-g128-qmatmul"]["message"]
    )
    assert by_name["int4-g128-reconstruction"]["status"] == "passed"
    # A storage case still measures what quantize stored for the other layers.
    assert by_name["int8-g64-storage"]["status"] == "failed"


def test_a_module_without_qmatmul_is_graded_on_the_rest(tmp_path: Path, prepared: dict[str, Any]) -> None:
    source = (SUBMISSIONS / "correct.py").read_text(encoding="utf-8").replace("def qmatmul(", "def _unused(")
    result = grade_submission(tmp_path, prepared, {"quantizer.py": source, "claims.json": CLAIMS / "correct.json"})
    skipped = {item["name"] for item in ALL if item["category"] == cases.QMATMUL}
    assert set(result["metrics"]["skipped"]) == skipped
    assert result["verdict"] == "passed" and len(result["tests"]) == len(ALL) - len(skipped)


def test_dequantize_sees_only_the_packed_tensors(tmp_path: Path, prepared: dict[str, Any]) -> None:
    """A quantize that keeps the weight in a module global gets nothing back in dequantize: it runs
    in another process, in a fresh sandbox in the grader."""
    source = (
        "import torch\nSTASH = {}\n"
        "def quantize(weight, bits, group_size):\n    STASH[weight.shape] = weight\n    return {'codes': torch.zeros(1, dtype=torch.uint8)}\n"
        "def dequantize(packed, bits, group_size, shape):\n    return STASH.get(tuple(shape), torch.zeros(shape))\n"
    )
    result = grade_submission(tmp_path, prepared, {"quantizer.py": source, "claims.json": CLAIMS / "correct.json"})
    assert result["verdict"] == "failed"
    assert {t["status"] for t in result["tests"] if t["details"]["category"] == cases.RECONSTRUCTION} == {"failed"}


def test_hidden_cases_show_only_category_hint_and_status(graded: Graded) -> None:
    result = graded(cases.PER_TENSOR_SCALE)
    hidden = [t for t in result["tests"] if t["visibility"] == "hidden"]
    assert hidden
    for test in hidden:
        assert test["expected"] is None and test["observed"] is None and test["rel_error"] is None
        assert set(test["details"]) == {"category", "hint"}
    text = json.dumps(hidden)
    assert "qwen2" not in text and '"bits"' not in text and '"group_size"' not in text


def test_the_public_reference_table_matches_a_fresh_measurement(graded: Graded) -> None:
    result = graded("correct")
    table = cases.load_public_expected()
    assert table["versions"]["torch"] == result["truth"]["versions"]["torch"]
    for item in cases.public_settings():
        fresh = result["truth"]["settings"][item["key"]]["reference"]
        for scheme in cases.SCHEMES:
            for field, value in table["settings"][item["key"]][scheme].items():
                if value is not None:
                    assert fresh[scheme][field] == pytest.approx(value, rel=1e-4), (item["key"], scheme, field)


def test_suite_time_on_this_cpu(graded: Graded, prepared: dict[str, Any]) -> None:
    """The whole suite for a correct quantizer, unsandboxed: asserted on CPU seconds (other load on a
    shared machine inflates wall time); the wall time is printed (pytest -s). bench/quant_grader.py
    times it through the sandbox."""
    result = graded("correct")
    cpu = result["timing"]["cpu_s"] + prepared["timing"]["cpu_s"]
    wall = result["timing"]["wall_s"] + prepared["timing"]["wall_s"]
    print(f"\nquantizer suite, {len(ALL)} cases: {wall:.1f} s wall / {cpu:.1f} s CPU", file=sys.stderr)
    assert cpu < 60
