"""The tiny_transformer grader through jobs.execute in the bubblewrap sandbox, and through a real
runner worker (runner env)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from portfolio.runner import jobs, protocol
from portfolio.runner.graders.tiny_transformer import TinyTransformerGrader
from portfolio.runner.tinytf import cases
from tests.runner.test_runner_worker import (  # noqa: F401 - fixtures of the real worker
    broker_dir,
    collect_until_result,
    publisher,
    start_worker,
    worker_env,
)
from tests.runner.tinytf.helpers import SUBMISSIONS, mistake_files

pytestmark = [pytest.mark.sandbox, pytest.mark.runner_env]


def _payload(
    data: bytes, *, filename: str = "tiny_transformer.py", attempt_id: int = 9301, file_mb: int = 64, **params: Any
) -> dict[str, Any]:
    return protocol.make_payload(
        attempt_id=attempt_id,
        run_id=attempt_id,
        attempt=1,
        grader=TinyTransformerGrader.name,
        grader_version=TinyTransformerGrader.version,
        filename=filename,
        data=data,
        params=params,
        limits={"wall_s": 300, "cpu_s": 300, "memory_mb": 4096, "file_mb": file_mb},
    )


def _zip(name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for inside, source in mistake_files(name).items():
            zf.writestr(f"work/{inside}", Path(source).read_bytes())
    return buffer.getvalue()


def _hidden_leaks(result: dict[str, Any]) -> list[str]:
    """Anything of a hidden case's inputs or outcome beyond name, category, hint and verdict."""
    leaks = []
    for test in result["tests"]:
        if test["visibility"] != "hidden":
            continue
        if test["expected"] is not None or test["observed"] is not None or test["rel_error"] is not None:
            leaks.append(test["name"])
        if set(test["details"]) - {"check", "category", "hint"}:
            leaks.append(test["name"])
    return leaks


def test_the_correct_submission_passes_in_the_sandbox() -> None:
    result = jobs.execute(_payload((SUBMISSIONS / "correct.py").read_bytes()))
    assert (result["outcome"], result["verdict"]) == ("completed", "passed"), result["message"] + result["log_tail"]
    assert result["score"] == 1.0 and len(result["tests"]) == len(cases.all_cases())
    assert result["sandboxed"] is True
    protocol.validate_result(result)
    assert _hidden_leaks(result) == []
    assert '"checks"' not in result["log_tail"]  # the check step's output stays out of the log
    assert result["metrics"]["device"] == "cpu" and result["metrics"]["passed"] == len(cases.all_cases())


def test_a_mistake_fails_its_cases_in_the_sandbox_and_hidden_cases_say_only_category_and_hint() -> None:
    result = jobs.execute(_payload(_zip(cases.MASK_OFF_BY_ONE), filename="work.zip", attempt_id=9302))
    assert (result["outcome"], result["verdict"]) == ("completed", "failed"), result["message"] + result["log_tail"]
    failing = {t["name"] for t in result["tests"] if t["status"] != "passed"}
    assert failing == {i["name"] for i in cases.all_cases() if cases.MASK_OFF_BY_ONE in i["catches"]}
    assert _hidden_leaks(result) == []
    hidden = next(t for t in result["tests"] if t["name"] == "hidden-07")
    assert hidden["details"] == {"check": "causality", "category": "causality", "hint": cases.CHECKS["causality"][1]}
    assert hidden["message"] == "failed"
    text = json.dumps([t for t in result["tests"] if t["visibility"] == "hidden"])
    for item in cases.hidden_cases():
        assert item["why"] not in text and item["config"] not in text


def test_no_module_is_an_invalid_submission() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("a.py", "")
        zf.writestr("b.py", "")
    result = jobs.execute(_payload(buffer.getvalue(), filename="work.zip", attempt_id=9303))
    assert (result["outcome"], result["verdict"]) == ("submission_failed", "invalid_submission")
    assert "tiny_transformer.py" in result["message"]


def test_a_bad_parameter_is_our_error() -> None:
    result = jobs.execute(_payload(b"x = 1\n", attempt_id=9304, size="huge"))
    assert result["outcome"] == "system_error" and "params.size" in result["message"]


@pytest.mark.slow
def test_a_real_worker_grades_the_correct_submission(publisher, start_worker) -> None:  # noqa: F811
    start_worker()
    payload = _payload((SUBMISSIONS / "correct.py").read_bytes(), attempt_id=9305)
    publisher.send_task(protocol.TASK_EXECUTE, args=[payload], queue="runner")
    messages = collect_until_result(publisher, 9305, timeout=180)
    _, (_, result) = messages[-1]
    assert (result["outcome"], result["verdict"]) == ("completed", "passed"), result["message"] + result["log_tail"]
    stages = {data.get("stage_detail") for task, (_, data) in messages if task == protocol.TASK_RECORD_PROGRESS}
    assert {"running the submission", "checking against the reference"} <= stages


@pytest.mark.gpu
def test_full_size_cases_pass_on_a_gpu_runner() -> None:
    """On a GPU host: the reference, causality and cache cases on a model of tens of millions of
    parameters, 256 tokens, the learner's step on CUDA (the check step's reference in float64)."""
    from portfolio.runner.sandbox.config import SandboxConfig

    if not SandboxConfig.from_env().gpu:
        pytest.skip("no /dev/nvidia* device nodes on this host")
    result = jobs.execute(
        _payload((SUBMISSIONS / "correct.py").read_bytes(), attempt_id=9401, size="full", file_mb=512)
    )
    assert (result["outcome"], result["verdict"]) == ("completed", "passed"), result["message"] + result["log_tail"]
    assert result["environment"]["gpu_count"] >= 1 and result["metrics"]["device"] == "cuda"
    mistake = jobs.execute(
        _payload(_zip(cases.NO_SCALE), filename="work.zip", attempt_id=9402, size="full", file_mb=512)
    )
    failing = {t["name"] for t in mistake["tests"] if t["status"] != "passed"}
    assert failing == {i["name"] for i in cases.all_cases() if cases.NO_SCALE in i["catches"]}
