"""The reference server serving a real model through the open-loop reference engine's batch
(benchclient/model_server.py): the grader's reference client measures it and every figure agrees
with the server's record. Runs in the runner env (torch), in a subprocess as the runner would."""

from __future__ import annotations

import json
import subprocess

import pytest

from portfolio.runner.benchclient import cases
from tests.runner.kv.helpers import ROOT, runner_python


def check(*args: str, timeout: float) -> dict:
    proc = subprocess.run(
        [runner_python(), "-m", "portfolio.runner.benchclient.model_server", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


@pytest.mark.runner_env
@pytest.mark.slow
def test_a_tiny_model_on_the_cpu_is_measured_within_tolerance():
    out = check("--device", "cpu", "--architecture", "tiny-llama", "--cases", "single_request", timeout=300)
    case = out["cases"]["single_request"]
    assert case["problems"] == [], case
    assert case["true_summary"]["completed"] == 6 and case["median_step_ms"] > 0


@pytest.mark.gpu
@pytest.mark.runner_env
def test_a_real_model_on_the_gpu_is_measured_within_tolerance_in_every_public_case():
    out = check("--device", "cuda", "--architecture", "qwen2.5-0.5b", "--dtype", "bfloat16", timeout=900)
    print(json.dumps(out, indent=1))  # the figures, for docs/benchmarks.md
    assert set(out["cases"]) == {c["name"] for c in cases.public_cases()}
    for name, case in out["cases"].items():
        assert case["problems"] == [], (name, case)
