"""Fixtures of the KV grader tests. The expensive one, `truth`, measures every case once per session."""

from __future__ import annotations

from typing import Any

import pytest

from portfolio.runner.kv import cases
from tests.runner.kv.helpers import measure_requests


@pytest.fixture(scope="session")
def truth(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """harness_measure's output for every case (public and hidden), with its wall and CPU time."""
    requests = cases.measurement_requests(cases.all_cases())
    output, timing = measure_requests(requests, tmp_path_factory.mktemp("kv-truth"))
    return {"output": output, "timing": timing, "requests": len(requests)}
