"""The kv_calculator grader through jobs.execute, in the bubblewrap sandbox (runner env).

The grader is registered here with graders.register: adding it to the registry's BUILTIN table
is the registry owner's change.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from portfolio.runner import graders, jobs, protocol
from portfolio.runner.graders.kv_calculator import KVCalculatorGrader
from portfolio.runner.kv import cases
from tests.runner.kv.helpers import SUBMISSIONS

pytestmark = [pytest.mark.sandbox, pytest.mark.runner_env]


@pytest.fixture(autouse=True)
def _registered() -> Iterator[None]:
    graders.register(KVCalculatorGrader.name, KVCalculatorGrader)
    yield
    graders._factories.pop(KVCalculatorGrader.name, None)


def _payload(
    data: bytes, *, filename: str = "kv_calculator.py", attempt_id: int = 9001, **params: Any
) -> dict[str, Any]:
    return protocol.make_payload(
        attempt_id=attempt_id,
        run_id=attempt_id,
        attempt=1,
        grader=KVCalculatorGrader.name,
        grader_version=KVCalculatorGrader.version,
        filename=filename,
        data=data,
        params=params,
        limits={"wall_s": 300, "cpu_s": 300, "memory_mb": 4096},
    )


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buffer.getvalue()


def test_a_correct_calculator_passes_in_the_sandbox() -> None:
    result = jobs.execute(_payload((SUBMISSIONS / "correct.py").read_bytes()))
    assert (result["outcome"], result["verdict"]) == ("completed", "passed"), result["message"] + result["log_tail"]
    assert result["score"] == 1.0 and len(result["tests"]) == len(cases.all_cases())
    assert result["sandboxed"] is True
    protocol.validate_result(result)
    metrics = result["metrics"]
    # The table was measured with the runner env's versions (test_kv_measure checks), so the
    # public cases are taken from it and only the hidden ones are measured.
    assert metrics["public_from_table"] == len(cases.measurement_requests(cases.public_cases()))
    assert metrics["measured"] == len(cases.measurement_requests(cases.all_cases())) - metrics["public_from_table"]
    hidden = [t for t in result["tests"] if t["visibility"] == "hidden"]
    assert hidden and all(t["expected"] is None and t["observed"] is None for t in hidden)
    # The truth step's output (hidden expected values) must not reach the learner through the log.
    assert "measurements" not in result["log_tail"]


def test_a_mistake_fails_its_cases_in_the_sandbox() -> None:
    data = _zip({"kv_calculator.py": (SUBMISSIONS / "q_heads.py").read_text(encoding="utf-8")})
    result = jobs.execute(_payload(data, filename="work.zip", attempt_id=9002))
    assert (result["outcome"], result["verdict"]) == ("completed", "failed"), result["message"] + result["log_tail"]
    failing = {t["name"] for t in result["tests"] if t["status"] != "passed"}
    assert failing == {item["name"] for item in cases.all_cases() if cases.Q_HEADS in item["catches"]}


def test_no_calculator_is_an_invalid_submission() -> None:
    result = jobs.execute(_payload(_zip({"notes.txt": "hi", "a.py": "", "b.py": ""}), filename="work.zip"))
    assert (result["outcome"], result["verdict"]) == ("submission_failed", "invalid_submission")
    assert "kv_calculator.py" in result["message"]


def test_a_bad_parameter_is_our_error() -> None:
    result = jobs.execute(_payload((SUBMISSIONS / "correct.py").read_bytes(), call_timeout_s=99))
    assert result["outcome"] == "system_error" and "call_timeout_s" in result["message"]


@pytest.mark.gpu
def test_a_correct_calculator_passes_on_a_gpu_runner() -> None:
    """On a GPU host the sandbox binds the NVIDIA device nodes and the truth step measures the hidden
    cases on CUDA, with the model's own attention kernel (full size where the weights fit)."""
    from portfolio.runner.sandbox.config import SandboxConfig

    if not SandboxConfig.from_env().gpu:
        pytest.skip("no /dev/nvidia* device nodes on this host")
    result = jobs.execute(_payload((SUBMISSIONS / "correct.py").read_bytes(), attempt_id=9101))
    assert (result["outcome"], result["verdict"]) == ("completed", "passed"), result["message"] + result["log_tail"]
    assert result["sandboxed"] is True and result["environment"]["gpu_count"] >= 1
    devices = result["metrics"]["measurement_device"]
    assert devices and "cpu" not in devices, devices
    assert result["metrics"]["measured"] >= len(cases.measurement_requests(cases.hidden_cases()))
