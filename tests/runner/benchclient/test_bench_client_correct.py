"""A correct client (the grader's reference client) passes every case through the real worker and
sandbox, and the result says what was checked without giving a hidden case away."""

from __future__ import annotations

import json

import pytest

from portfolio.runner.benchclient import cases

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]


@pytest.fixture(scope="module")
def result(graded):
    return graded("correct")


def test_the_reference_client_passes_every_case(result):
    assert (result["outcome"], result["verdict"]) == ("completed", "passed"), json.dumps(result["tests"])[:3000]
    assert result["sandboxed"] is True
    assert {t["name"] for t in result["tests"]} == {c["name"] for c in cases.all_cases()}
    assert result["score"] == 1.0


def test_the_server_ran_guarded_in_its_own_pid_namespace(result):
    assert result["metrics"]["guard"] == {"undumpable": True, "in_pid_namespace": True}
    # None: the child's signal filter was installed in every case.
    assert result["metrics"]["signal_guard"] == ["None"]


def test_each_case_states_its_tolerance(result):
    for test in result["tests"]:
        assert test["details"]["allowance_ms"] >= 50.0
        assert "of the server's record" in test["message"] and "allowed)" in test["message"]


def test_a_hidden_case_shows_neither_its_workload_nor_its_truth(result):
    hidden = {c["name"] for c in cases.hidden_cases()}
    text = json.dumps([t for t in result["tests"] if t["name"] in hidden])
    for item in cases.hidden_cases():
        assert item["why"] not in text
    assert "true_summary" not in text and "output_tail" not in text
    assert "arrival_s" not in json.dumps(result["raw"])
