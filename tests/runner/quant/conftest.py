"""Fixtures of the quantizer grader tests. The prepare step (models and weights) runs once per
session, and each test submission is graded once (`graded`): several tests read one result."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.runner.quant.helpers import files_for, grade_submission, prepare


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return prepare(tmp_path_factory.mktemp("quant-prepare"))


@pytest.fixture(scope="session")
def graded(tmp_path_factory: pytest.TempPathFactory, prepared: dict[str, Any]) -> Callable[[str], dict[str, Any]]:
    """graded("correct") or graded("<mistake>"): the submission's files_for() result, graded once
    per session (the whole pipeline after prepare costs tens of seconds each on a loaded CPU)."""
    results: dict[str, dict[str, Any]] = {}

    def grade(code: str) -> dict[str, Any]:
        if code not in results:
            results[code] = grade_submission(tmp_path_factory.mktemp(f"quant-{code}"), prepared, files_for(code))
        return results[code]

    return grade
