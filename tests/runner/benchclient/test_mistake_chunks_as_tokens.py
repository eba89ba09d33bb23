"""The typical mistake `chunks_as_tokens` (stream events counted as tokens) fails the cases built to catch it and passes the others it runs."""

from __future__ import annotations

import pytest

from tests.runner.benchclient.helpers import by_name, failed_names

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

CASES = ["chunked_stream", "single_request"]
MUST_FAIL = {"chunked_stream"}


@pytest.fixture(scope="module")
def result(graded):
    return graded("chunks_as_tokens", CASES)


def test_chunks_as_tokens_fails_the_cases_built_to_catch_it(result):
    assert result["outcome"] == "completed", result["log_tail"]
    assert result["verdict"] == "failed"
    assert failed_names(result) >= MUST_FAIL


def test_chunks_as_tokens_is_named_by_its_category(result):
    tests = by_name(result)
    for name in MUST_FAIL:
        assert tests[name]["status"] == "failed", tests[name]["message"]
        assert "tokens" in tests[name]["details"]["failed_categories"]
        assert tests[name]["details"]["hint"]


def test_chunks_as_tokens_still_passes_where_it_measures_right(result):
    assert not {"single_request"} & failed_names(result)
