"""Fixtures of the quantizer grader tests. The prepare step (models and weights) runs once per session."""

from __future__ import annotations

from typing import Any

import pytest

from tests.runner.quant.helpers import prepare


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return prepare(tmp_path_factory.mktemp("quant-prepare"))
