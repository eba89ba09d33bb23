"""The typical mistake `warmups_counted` (warm-ups recorded with the measured requests) fails the cases built to catch it."""

from __future__ import annotations

import pytest

from tests.runner.benchclient.helpers import by_name, failed_names

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

CASES = ["single_request", "jitter"]
MUST_FAIL = {"jitter", "single_request"}


@pytest.fixture(scope="module")
def result(graded):
    return graded("warmups_counted", CASES)


def test_warmups_counted_fails_the_cases_built_to_catch_it(result):
    assert result["outcome"] == "completed", result["log_tail"]
    assert result["verdict"] == "failed"
    assert failed_names(result) >= MUST_FAIL


def test_warmups_counted_is_named_by_its_category(result):
    tests = by_name(result)
    for name in MUST_FAIL:
        assert tests[name]["status"] == "failed", tests[name]["message"]
        assert "warmup" in tests[name]["details"]["failed_categories"]
        assert tests[name]["details"]["hint"]
