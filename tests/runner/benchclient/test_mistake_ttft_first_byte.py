"""The typical mistake `ttft_first_byte` (TTFT taken at the response headers) fails the cases built to catch it and passes the others it runs."""

from __future__ import annotations

import pytest

from tests.runner.benchclient.helpers import by_name, failed_names

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

CASES = ["single_request", "slow_first_token", "non_streaming"]
MUST_FAIL = {"single_request", "slow_first_token"}


@pytest.fixture(scope="module")
def result(graded):
    return graded("ttft_first_byte", CASES)


def test_ttft_first_byte_fails_the_cases_built_to_catch_it(result):
    assert result["outcome"] == "completed", result["log_tail"]
    assert result["verdict"] == "failed"
    assert failed_names(result) >= MUST_FAIL


def test_ttft_first_byte_is_named_by_its_category(result):
    tests = by_name(result)
    for name in MUST_FAIL:
        assert tests[name]["status"] == "failed", tests[name]["message"]
        assert "ttft" in tests[name]["details"]["failed_categories"]
        assert tests[name]["details"]["hint"]


def test_ttft_first_byte_still_passes_where_it_measures_right(result):
    assert not {"non_streaming"} & failed_names(result)
