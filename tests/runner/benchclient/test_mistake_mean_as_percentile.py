"""The typical mistake `mean_as_percentile` (every percentile reported as the mean) fails the cases built to catch it."""

from __future__ import annotations

import pytest

from tests.runner.benchclient.helpers import by_name, failed_names

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

CASES = ["concurrent_8", "jitter", "stalls"]
MUST_FAIL = {"concurrent_8", "jitter", "stalls"}


@pytest.fixture(scope="module")
def result(graded):
    return graded("mean_as_percentile", CASES)


def test_mean_as_percentile_fails_the_cases_built_to_catch_it(result):
    assert result["outcome"] == "completed", result["log_tail"]
    assert result["verdict"] == "failed"
    assert failed_names(result) >= MUST_FAIL


def test_mean_as_percentile_is_named_by_its_category(result):
    tests = by_name(result)
    for name in MUST_FAIL:
        assert tests[name]["status"] == "failed", tests[name]["message"]
        assert "percentiles" in tests[name]["details"]["failed_categories"]
        assert tests[name]["details"]["hint"]
