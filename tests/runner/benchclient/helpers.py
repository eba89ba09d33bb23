"""Helpers of the benchmark-client grader tests: grade a submission through the real runner job
(jobs.execute: the bubblewrap sandbox, the reference server inside it, the comparison)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from portfolio.runner import jobs, protocol
from tests.runner.benchclient.mistakes import mistaken

ROOT = Path(__file__).resolve().parents[3]
REFERENCE = ROOT / "portfolio" / "runner" / "benchclient" / "reference_client.py"


def source(name: str) -> str:
    """A test submission's code: "correct" is the grader's reference client, any other name that
    client with one typical mistake made in it (tests/runner/benchclient/mistakes.py)."""
    reference = REFERENCE.read_text(encoding="utf-8")
    return reference if name == "correct" else mistaken(reference, name)


def zipped(files: Mapping[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def grade(
    files: Mapping[str, str] | str,
    *,
    cases: Sequence[str] | None = None,
    case_wall_s: float | None = None,
    attempt_id: int = 16,
) -> dict[str, Any]:
    """The runner's result for a submission: one bench_client.py (a string) or several files."""
    if isinstance(files, str):
        filename, data = "bench_client.py", files.encode()
    else:
        filename, data = "submission.zip", zipped(files)
    params: dict[str, Any] = {}
    if cases is not None:
        params["cases"] = list(cases)
    if case_wall_s is not None:
        params["case_wall_s"] = case_wall_s
    payload = protocol.make_payload(
        attempt_id=attempt_id,
        run_id=attempt_id,
        attempt=1,
        grader="bench_client",
        grader_version="1",
        filename=filename,
        data=data,
        params=params,
        limits={},
    )
    return jobs.execute(payload)


def by_name(result: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {test["name"]: test for test in result["tests"]}


def failed_names(result: Mapping[str, Any]) -> set[str]:
    return {test["name"] for test in result["tests"] if test["status"] != "passed"}
