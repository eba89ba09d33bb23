"""Helpers of the KV grader tests: run the harness scripts the way the runner does.

The web env has no torch, so everything that builds a model runs under RUNNER_PYTHON (default:
the repository's .venv-runner) in a subprocess: ``RUNNER_PYTHON -I script input.json output.json``
with a job folder as the working directory, as the sandbox runs them.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
KV = ROOT / "portfolio" / "runner" / "kv"
HARNESS_CALL = KV / "harness_call.py"
HARNESS_MEASURE = KV / "harness_measure.py"
SUBMISSIONS = Path(__file__).resolve().parent / "submissions"


def runner_python() -> str:
    python = os.environ.get("RUNNER_PYTHON") or str(ROOT / ".venv-runner" / "bin" / "python")
    if not os.access(python, os.X_OK):
        pytest.skip(f"the runner env is missing: {python}")
    return python


def run_harness(
    script: Path, job: Mapping[str, Any], workdir: Path, *, timeout: float = 600, args: Sequence[str] = ()
) -> tuple[dict[str, Any], dict[str, float], subprocess.CompletedProcess[str]]:
    """Run a harness script; returns output.json, {"wall_s", "cpu_s"} and the process."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "input.json").write_text(json.dumps(job), encoding="utf-8")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(
        [runner_python(), "-I", str(script), "input.json", "output.json", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    out = workdir / "output.json"
    assert out.exists(), f"no output.json; rc={proc.returncode}\n{proc.stderr[-3000:]}"
    return json.loads(out.read_text(encoding="utf-8")), {"wall_s": wall, "cpu_s": cpu}, proc


def submission_dir(workdir: Path, files: Mapping[str, str | Path]) -> Path:
    """A submission folder: {name in the folder: source text or a file to copy}."""
    folder = workdir / "submission"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name, source in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, Path):
            shutil.copy(source, target)
        else:
            target.write_text(source, encoding="utf-8")
    return folder


def call_submission(
    workdir: Path,
    files: Mapping[str, str | Path],
    case_inputs: Sequence[Mapping[str, Any]],
    **options: Any,
) -> tuple[dict[str, Any], dict[str, float]]:
    submission_dir(workdir, files)
    job = {"submission": "submission", "cases": list(case_inputs), **options}
    output, timing, proc = run_harness(HARNESS_CALL, job, workdir, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return output, timing


def measure_requests(
    requests: Sequence[Mapping[str, Any]], workdir: Path, **options: Any
) -> tuple[dict[str, Any], dict[str, float]]:
    output, timing, proc = run_harness(HARNESS_MEASURE, {"requests": list(requests), **options}, workdir)
    assert output.get("status") == "ok", output.get("traceback") or proc.stderr[-3000:]
    errors = {key: value["error"] for key, value in output["measurements"].items() if "error" in value}
    assert not errors, json.dumps({key: output["measurements"][key].get("traceback") for key in errors}, indent=1)[
        -6000:
    ]
    return output, timing
