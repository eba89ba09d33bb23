"""Helpers of the tiny transformer grader tests: run its two harnesses the way the grader chains
them, without the sandbox (the sandboxed path is test_tinytf_grader.py)."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from portfolio.runner.graders.tiny_transformer import HARNESS_CHECK, HARNESS_LEARNER, TENSORS_NAME
from portfolio.runner.tinytf import cases, grade
from tests.runner.kv.helpers import run_harness, submission_dir

SUBMISSIONS = Path(__file__).resolve().parent / "submissions"


def mistake_files(name: str) -> dict[str, str | Path]:
    """A submission folder's files: a mistake is its own tiny_transformer.py next to correct.py,
    which it imports and changes in one place."""
    if name == "correct":
        return {"tiny_transformer.py": SUBMISSIONS / "correct.py"}
    return {"tiny_transformer.py": SUBMISSIONS / f"{name}.py", "correct.py": SUBMISSIONS / "correct.py"}


def run_learner(
    workdir: Path, files: Mapping[str, str | Path], items: list[dict[str, Any]], **options: Any
) -> tuple[dict[str, Any], dict[str, float]]:
    submission_dir(workdir, files)
    job = {"submission": "submission", "cases": [cases.learner_input(i) for i in items], "threads": 1, **options}
    output, timing, proc = run_harness(HARNESS_LEARNER, job, workdir, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return output, timing


def run_check(
    workdir: Path, learner_dir: Path, learner: dict[str, Any], items: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, float]]:
    workdir.mkdir(parents=True, exist_ok=True)
    tensors = None
    if (learner_dir / TENSORS_NAME).exists():
        shutil.copy(learner_dir / TENSORS_NAME, workdir / TENSORS_NAME)
        tensors = TENSORS_NAME
    job = {"cases": [cases.check_input(i) for i in items], "learner": learner["results"], "tensors": tensors}
    output, timing, _ = run_harness(HARNESS_CHECK, {**job, "threads": 1}, workdir, timeout=300)
    assert output.get("status") == "ok", output.get("traceback")
    return output, timing


def grade_submission(workdir: Path, name: str, items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The grader's chain on one submission: learner step, check step, grade.compare."""
    chosen = items if items is not None else [dict(i) for i in cases.all_cases()]
    learner, learner_timing = run_learner(workdir / "learner", mistake_files(name), chosen)
    assert learner["status"] == "ok", learner
    checked, check_timing = run_check(workdir / "check", workdir / "learner", learner, chosen)
    result = grade.compare(chosen, learner["results"], checked["checks"])
    result["timing"] = {"learner": learner_timing, "check": check_timing}
    result["learner"] = learner
    return result


def failing(result: dict[str, Any]) -> set[str]:
    return {test["name"] for test in result["tests"] if test["status"] != "passed"}
