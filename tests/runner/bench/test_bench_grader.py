"""The inference_benchmark grader's logic, with a stand-in for the sandbox context.

The benchmark step's output is the real harness output of the session's CPU run (runner env);
the grader's decisions (verdicts, tests, recomputation, refusals) are what is tested here. The
sandbox itself is tested by its owner.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from portfolio.runner import protocol
from portfolio.runner.graders.inference_benchmark import InferenceBenchmarkGrader, find_documents


@dataclass
class FakeLimits:
    memory_mb: int = 4096


@dataclass
class FakeCtx:
    submission_dir: Path
    output: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    limits: FakeLimits = field(default_factory=FakeLimits)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def run(
        self, step: str, argv: list[str], *, input: dict[str, Any], learner_code: bool = True
    ) -> tuple[object, Any]:
        self.calls.append({"step": step, "argv": argv, "input": input, "learner_code": learner_code})
        return object(), copy.deepcopy(self.output)

    def failure(self, result: object, *, step: str, learner_code: bool = True) -> None:
        return None


def _submit(tmp_path: Path, name: str, doc: Any) -> Path:
    folder = tmp_path / "submission"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(json.dumps(doc), encoding="utf-8")
    return folder


def test_find_documents(tmp_path: Path) -> None:
    folder = _submit(tmp_path, "my_spec.json", {"architecture": "tiny-llama"})
    assert find_documents(folder) == ({"architecture": "tiny-llama"}, None, [])
    (folder / "my_spec.json").unlink()
    (folder / "upload.json").write_text('{"workload": {}, "claimed": {}}')
    assert find_documents(folder)[1] == {"workload": {}, "claimed": {}}
    (folder / "upload.json").write_text("{not json")
    assert "not readable JSON" in find_documents(folder)[2][0]


def test_invalid_spec_is_the_submissions_failure(tmp_path: Path) -> None:
    ctx = FakeCtx(_submit(tmp_path, "workload.json", {"architecture": "tiny-llama", "dtype": "fp4"}))
    report = InferenceBenchmarkGrader().grade(ctx)  # type: ignore[arg-type]
    assert report.verdict == protocol.VERDICT_INVALID_SUBMISSION
    assert "dtype" in report.message and "prompt_tokens" in report.message
    assert ctx.calls == []  # nothing ran


def test_refused_spec_is_the_submissions_failure(tmp_path: Path) -> None:
    spec_doc = {
        "architecture": "llama-3.1-8b",
        "dtype": "bfloat16",
        "prompt_tokens": 64,
        "output_tokens": 8,
        "concurrency": [1],
        "requests": 1,
    }
    ctx = FakeCtx(
        _submit(tmp_path, "workload.json", spec_doc),
        output={"status": "refused", "message": "llama-3.1-8b is in the GPU catalog"},
    )
    report = InferenceBenchmarkGrader().grade(ctx)  # type: ignore[arg-type]
    assert report.verdict == protocol.VERDICT_INVALID_SUBMISSION and "GPU catalog" in report.message
    assert ctx.calls[0]["learner_code"] is False and ctx.calls[0]["input"]["cpu_memory_bytes"] == 4096 * 1024**2


@pytest.mark.runner_env
def test_spec_run_passes_and_tampering_is_caught(
    tmp_path: Path, e2e_run: dict[str, Any], e2e_spec: dict[str, Any]
) -> None:
    ctx = FakeCtx(_submit(tmp_path, "workload.json", e2e_spec), output=e2e_run["output"])
    report = InferenceBenchmarkGrader().grade(ctx)  # type: ignore[arg-type]
    assert report.verdict == protocol.VERDICT_PASSED, report.tests
    names = {t["name"]: t for t in report.tests}
    assert names["metrics recomputed from raw"]["status"] == "passed"
    assert names["raw timings coherent"]["status"] == "passed"
    assert {"concurrency 1", "concurrency 3"} <= set(names)
    assert report.metrics["batching"]["mode"] == "static" and report.raw["benchmark"]["levels"]
    assert report.metrics["roofline"]["levels"][0]["efficiency"] > 0

    tampered = copy.deepcopy(e2e_run["output"])
    tampered["metrics"]["levels"][0]["tpot_ms"]["p50"] *= 0.5
    ctx = FakeCtx(_submit(tmp_path, "workload.json", e2e_spec), output=tampered)
    report = InferenceBenchmarkGrader().grade(ctx)  # type: ignore[arg-type]
    assert report.verdict == protocol.VERDICT_FAILED
    assert {t["name"]: t for t in report.tests}["metrics recomputed from raw"]["status"] == "failed"


def _upload(claim_scale: float) -> dict[str, Any]:
    ttfts = [0.05, 0.07, 0.06, 0.05]
    return {
        "workload": {
            "model": "m",
            "dtype": "bfloat16",
            "hardware": "1x L4",
            "engine": "vllm",
            "engine_version": "0.11",
            "prompt_tokens": 32,
            "output_tokens": 3,
            "concurrency": 2,
            "num_requests": 4,
        },
        "claimed": {"mean_ttft_ms": 57.5 * claim_scale, "completed": 4},
        "raw": {
            "start_times": [0.0, 0.0, 0.2, 0.2],
            "ttfts": ttfts,
            "itls": [[0.01, 0.01]] * 4,
            "latencies": [t + 0.02 for t in ttfts],
            "output_lens": [3] * 4,
        },
    }


def test_results_upload_honest_and_tampered(tmp_path: Path) -> None:
    report = InferenceBenchmarkGrader().grade(FakeCtx(_submit(tmp_path, "results.json", _upload(1.0))))  # type: ignore[arg-type]
    assert report.verdict == protocol.VERDICT_PASSED and report.score == 1.0
    report = InferenceBenchmarkGrader().grade(FakeCtx(_submit(tmp_path, "results.json", _upload(0.9))))  # type: ignore[arg-type]
    assert report.verdict == protocol.VERDICT_WRONG
    failed = [t for t in report.tests if t["status"] == "failed"]
    assert [t["name"] for t in failed] == ["claim mean_ttft_ms"] and report.score == 0.5


@pytest.mark.sandbox
@pytest.mark.runner_env
def test_real_job_through_the_sandbox() -> None:
    """The whole path: payload -> jobs.execute -> grader -> harness_run.py in bubblewrap -> result."""
    from portfolio.runner import graders, jobs

    graders.register(InferenceBenchmarkGrader.name, InferenceBenchmarkGrader)
    workload = {
        "architecture": "tiny-gpt2",
        "dtype": "float32",
        "prompt_tokens": {"kind": "uniform", "min": 4, "max": 12},
        "output_tokens": {"kind": "uniform", "min": 1, "max": 5},
        "concurrency": [1, 2],
        "requests": 3,
        "seed": 2,
    }
    payload = protocol.make_payload(
        attempt_id=7001,
        run_id=7001,
        attempt=1,
        grader="inference_benchmark",
        grader_version="1",
        filename="workload.json",
        data=json.dumps(workload).encode(),
        params={"threads": 1},
        limits={"wall_s": 240, "cpu_s": 240, "memory_mb": 4096},
    )
    result = jobs.execute(payload)
    assert (result["outcome"], result["verdict"]) == ("completed", "passed"), (
        result["message"] + result["log_tail"][-2000:]
    )
    assert result["sandboxed"] is True
    levels = result["metrics"]["levels"]
    assert [level["concurrency"] for level in levels] == [1, 2]
    assert all(level["completed"] == 3 and level["peak_memory"]["kind"] == "cpu_rss" for level in levels)
    assert result["raw"]["benchmark"]["batching"] == "static"
    assert result["metrics"]["harness_environment"]["device_kind"] == "cpu"


@pytest.mark.gpu
@pytest.mark.sandbox
@pytest.mark.runner_env
def test_real_job_on_a_gpu_runner() -> None:
    """The same path on a GPU host: the harness builds the model on CUDA inside the sandbox, times
    with device synchronisation, reports the allocator's peak and a CUDA-event copy bandwidth."""
    from portfolio.runner import graders, jobs
    from portfolio.runner.sandbox.config import SandboxConfig

    if not SandboxConfig.from_env().gpu:
        pytest.skip("no /dev/nvidia* device nodes on this host")
    graders.register(InferenceBenchmarkGrader.name, InferenceBenchmarkGrader)
    workload = {
        "architecture": "qwen2.5-0.5b",
        "dtype": "bfloat16",
        "prompt_tokens": {"kind": "uniform", "min": 64, "max": 256},
        "output_tokens": 32,
        "concurrency": [1, 4, 16],
        "requests": 16,
        "warmup_requests": 2,
        "seed": 0,
        "slo": {"ttft_ms": 100, "tpot_ms": 20},
    }
    payload = protocol.make_payload(
        attempt_id=7101,
        run_id=7101,
        attempt=1,
        grader="inference_benchmark",
        grader_version="1",
        filename="workload.json",
        data=json.dumps(workload).encode(),
        params={},
        limits={"wall_s": 600, "cpu_s": 600, "memory_mb": 16384},
    )
    result = jobs.execute(payload)
    assert (result["outcome"], result["verdict"]) == ("completed", "passed"), (
        result["message"] + result["log_tail"][-2000:]
    )
    assert result["sandboxed"] is True
    environment = result["metrics"]["harness_environment"]
    assert environment["device_kind"] == "cuda" and environment["cuda"]
    levels = result["metrics"]["levels"]
    weights = result["metrics"]["model"]["weight_bytes"]["total_bytes"]
    assert weights == 2 * 494_032_768
    assert all(
        level["peak_memory"]["kind"] == "cuda_allocated" and level["peak_memory"]["bytes"] > weights for level in levels
    )
    roofline = result["metrics"]["roofline"]
    assert "CUDA events" in roofline["bandwidth_method"] and roofline["bandwidth_gb_per_s"] > 100
    assert all(0 < level["efficiency"] <= 1.5 for level in roofline["levels"])
