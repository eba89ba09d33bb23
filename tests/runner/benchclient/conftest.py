"""Fixtures of the benchmark-client grader tests: each submission is graded once per session
(`graded`), through the real sandbox; several tests read one result."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from tests.runner.benchclient.helpers import grade, source


@pytest.fixture(scope="session")
def graded() -> Callable[..., dict[str, Any]]:
    """graded("correct") or graded("<mistake>", cases=[...]): the runner's result, computed once."""
    results: dict[tuple[str, tuple[str, ...] | None], dict[str, Any]] = {}

    def run(name: str, cases: Sequence[str] | None = None) -> dict[str, Any]:
        key = (name, tuple(cases) if cases is not None else None)
        if key not in results:
            results[key] = grade(source(name), cases=cases)
        return results[key]

    return run
