"""The quantizer grader through jobs.execute in the bubblewrap sandbox, and through a real runner
worker (runner env)."""

from __future__ import annotations

from typing import Any

import pytest
from celery import Celery

from portfolio.runner import jobs, protocol
from portfolio.runner.quant import cases
from tests.runner.quant.submission_files import files_for, zipped
from tests.runner.test_runner_worker import (  # noqa: F401 - fixtures
    broker_dir,
    collect_until_result,
    publisher,
    start_worker,
    worker_env,
)

pytestmark = [pytest.mark.sandbox, pytest.mark.runner_env, pytest.mark.slow]


def _payload(data: bytes, *, filename: str = "work.zip", attempt_id: int = 9201, **params: Any) -> dict[str, Any]:
    return protocol.make_payload(
        attempt_id=attempt_id,
        run_id=attempt_id,
        attempt=1,
        grader="quantizer",
        grader_version="1",
        filename=filename,
        data=data,
        params=params,
        limits={"wall_s": 600, "cpu_s": 600, "memory_mb": 8192},
    )


def _failing(result: dict[str, Any]) -> set[str]:
    return {t["name"] for t in result["tests"] if t["status"] != "passed"}


def test_a_mistake_fails_its_cases_in_the_sandbox() -> None:
    result = jobs.execute(_payload(zipped(files_for("byte_per_value")), attempt_id=9202))
    assert (result["outcome"], result["verdict"]) == ("completed", "failed"), result["message"] + result["log_tail"]
    assert _failing(result) == {c["name"] for c in cases.all_cases() if cases.BYTE_PER_VALUE in c["catches"]}


def test_no_quantizer_is_an_invalid_submission() -> None:
    result = jobs.execute(_payload(zipped({"notes.txt": "hi", "claims.json": "{}"}), attempt_id=9203))
    assert (result["outcome"], result["verdict"]) == ("submission_failed", "invalid_submission")
    assert "quantizer.py" in result["message"]


def test_a_bad_parameter_is_our_error() -> None:
    result = jobs.execute(_payload(zipped(files_for("correct")), attempt_id=9204, call_timeout_s=99))
    assert result["outcome"] == "system_error" and "call_timeout_s" in result["message"]


def test_a_real_worker_grades_a_correct_quantizer_in_the_sandbox(publisher: Celery, start_worker: Any) -> None:  # noqa: F811
    """The one full run of a correct quantizer here: the worker calls jobs.execute, so this is also
    the sandbox's test (tests/runner/quant/test_quant_pipeline.py grades it again unsandboxed)."""
    start_worker({})
    publisher.send_task(
        protocol.TASK_EXECUTE, args=[_payload(zipped(files_for("correct")), attempt_id=9205)], queue="runner"
    )
    messages = collect_until_result(publisher, 9205, timeout=400)
    name, (attempt_id, result) = messages[-1]
    assert (name, attempt_id) == (protocol.TASK_RECORD_RESULT, 9205)
    assert (result["outcome"], result["verdict"]) == ("completed", "passed"), result["message"] + result["log_tail"]
    assert result["sandboxed"] is True and len(result["tests"]) == len(cases.all_cases())
    protocol.validate_result(result)
    assert set(result["raw"]["steps"]) == {"prepare", "quantize", "dequantize", "truth"}
    assert set(result["raw"]["reference"]) == {s["key"] for s in cases.public_settings()}
    hidden = [t for t in result["tests"] if t["visibility"] == "hidden"]
    assert hidden and all(t["expected"] is None and set(t["details"]) == {"category", "hint"} for t in hidden)
    # The trusted steps' outputs (hidden settings' figures) stay out of the log.
    assert "partial_group_error" not in result["log_tail"] and "hidden-a" not in result["log_tail"]
    stages = {data.get("stage_detail") for task, (_, data) in messages if task == protocol.TASK_RECORD_PROGRESS}
    assert {"building the reference models", "calling quantize", "calling dequantize", "measuring"} <= stages


@pytest.mark.gpu
def test_qmatmul_speed_and_memory_on_a_gpu_runner() -> None:
    """On a GPU host the dequantize step also times qmatmul against the float16 matmul at full size
    (4096 x 4096 and 14336 x 4096, 4-bit, groups of 128) and reports it in metrics.speed."""
    from portfolio.runner.sandbox.config import SandboxConfig

    if not SandboxConfig.from_env().gpu:
        pytest.skip("no /dev/nvidia* device nodes on this host")
    result = jobs.execute(_payload(zipped(files_for("correct")), attempt_id=9301))
    assert (result["outcome"], result["verdict"]) == ("completed", "passed"), result["message"] + result["log_tail"]
    speed = result["metrics"]["speed"]
    assert speed and "error" not in speed, speed
    assert {run["rows"] for run in speed["runs"]} == {1, 16}
    for run in speed["runs"]:
        assert run["fp16"]["ms"] > 0 and run["qmatmul"]["ms"] > 0
