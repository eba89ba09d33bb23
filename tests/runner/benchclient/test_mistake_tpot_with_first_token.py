"""The typical mistake `tpot_with_first_token` (TPOT computed as E2E / output tokens) fails the cases built to catch it and passes the others it runs."""

from __future__ import annotations

import pytest

from tests.runner.benchclient.helpers import by_name, failed_names

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

CASES = ["long_prompt_short_output", "slow_first_token", "non_streaming"]
MUST_FAIL = {"slow_first_token", "long_prompt_short_output"}


@pytest.fixture(scope="module")
def result(graded):
    return graded("tpot_with_first_token", CASES)


def test_tpot_with_first_token_fails_the_cases_built_to_catch_it(result):
    assert result["outcome"] == "completed", result["log_tail"]
    assert result["verdict"] == "failed"
    assert failed_names(result) >= MUST_FAIL


def test_tpot_with_first_token_is_named_by_its_category(result):
    tests = by_name(result)
    for name in MUST_FAIL:
        assert tests[name]["status"] == "failed", tests[name]["message"]
        assert "tpot" in tests[name]["details"]["failed_categories"]
        assert tests[name]["details"]["hint"]


def test_tpot_with_first_token_still_passes_where_it_measures_right(result):
    assert not {"non_streaming"} & failed_names(result)
