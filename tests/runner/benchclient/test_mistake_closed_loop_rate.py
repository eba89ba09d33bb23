"""The typical mistake `closed_loop_rate` (a rate workload run as a closed loop) fails the cases built to catch it and passes the others it runs."""

from __future__ import annotations

import pytest

from tests.runner.benchclient.helpers import by_name, failed_names

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

CASES = ["poisson_rate", "saturating_rate", "single_request"]
MUST_FAIL = {"saturating_rate", "poisson_rate"}


@pytest.fixture(scope="module")
def result(graded):
    return graded("closed_loop_rate", CASES)


def test_closed_loop_rate_fails_the_cases_built_to_catch_it(result):
    assert result["outcome"] == "completed", result["log_tail"]
    assert result["verdict"] == "failed"
    assert failed_names(result) >= MUST_FAIL


def test_closed_loop_rate_is_named_by_its_category(result):
    tests = by_name(result)
    for name in MUST_FAIL:
        assert tests[name]["status"] == "failed", tests[name]["message"]
        assert "open_loop" in tests[name]["details"]["failed_categories"]
        assert tests[name]["details"]["hint"]


def test_closed_loop_rate_still_passes_where_it_measures_right(result):
    assert not {"single_request"} & failed_names(result)
