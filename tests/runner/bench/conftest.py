"""Shared fixtures of the inference-benchmark tests.

The web env has no torch, so anything that builds a model runs the harness in a subprocess
under RUNNER_PYTHON (default: the repository's .venv-runner). Those tests carry the
``runner_env`` mark and are skipped when that interpreter is missing. The expensive runs are
session-scoped so the whole suite starts torch only a few times.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
BENCH = ROOT / "portfolio" / "runner" / "bench"
HARNESS_SCRIPT = BENCH / "harness_run.py"
RUNNER_PYTHON = os.environ.get("RUNNER_PYTHON", str(ROOT / ".venv-runner" / "bin" / "python"))

# A CPU workload small enough for a few seconds on 2 cores, shaped to exercise everything: unequal
# prompts (left padding), unequal outputs including 1-token requests, a batch smaller than the
# concurrency (5 requests at concurrency 3), two levels, SLOs.
E2E_SPEC: dict[str, Any] = {
    "architecture": "tiny-llama",
    "dtype": "float32",
    "prompt_tokens": {"kind": "uniform", "min": 4, "max": 20},
    "output_tokens": {"kind": "uniform", "min": 1, "max": 7},
    "concurrency": [1, 3],
    "requests": 5,
    "warmup_requests": 1,
    "seed": 0,  # draws (16,7) (17,1) (12,5) (19,4) (13,4): a 1-token request shares a batch
    "slo": {"ttft_ms": 1000, "tpot_ms": 1000},
}


def _need_runner() -> None:
    if not Path(RUNNER_PYTHON).exists():
        pytest.skip(f"RUNNER_PYTHON {RUNNER_PYTHON} not found")


def run_harness(
    job: dict[str, Any], workdir: Path, timeout: float = 300
) -> tuple[dict[str, Any], list[dict[str, Any]], subprocess.CompletedProcess[str]]:
    """Run harness_run.py as the worker will: isolated mode, job folder as working directory."""
    _need_runner()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "input.json").write_text(json.dumps(job), encoding="utf-8")
    proc = subprocess.run(
        [RUNNER_PYTHON, "-I", str(HARNESS_SCRIPT), "input.json", "output.json"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    out_file = workdir / "output.json"
    assert out_file.exists(), f"no output.json; rc={proc.returncode}\n{proc.stderr[-3000:]}"
    output = json.loads(out_file.read_text(encoding="utf-8"))
    progress_file = workdir / "progress.jsonl"
    progress = (
        [json.loads(line) for line in progress_file.read_text(encoding="utf-8").splitlines()]
        if progress_file.exists()
        else []
    )
    return output, progress, proc


def run_runner_script(code: str, timeout: float = 300) -> Any:
    """Run Python code in the runner env (repository root importable); return its last stdout line as JSON."""
    _need_runner()
    proc = subprocess.run(
        [RUNNER_PYTHON, "-I", "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r})\n{code}"],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def e2e_spec() -> dict[str, Any]:
    return E2E_SPEC


@pytest.fixture(scope="session")
def harness_runner() -> Any:
    """run_harness, as a fixture: test modules here are not a package and cannot import conftest."""
    return run_harness


@pytest.fixture(scope="session")
def runner_script() -> Any:
    return run_runner_script


@pytest.fixture(scope="session")
def e2e_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One CPU harness run of E2E_SPEC (threads=1: other jobs may share this machine's 2 cores)."""
    workdir = tmp_path_factory.mktemp("bench-e2e")
    output, progress, proc = run_harness(
        {"spec": E2E_SPEC, "device": "cpu", "threads": 1, "bandwidth_bytes": 32 * 1024**2}, workdir
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"output": output, "progress": progress, "workdir": workdir}
