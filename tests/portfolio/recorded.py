"""Results recorded from real runs of the graders, for the results pages' tests.

tests/portfolio/data/ holds the JSON results `jobs.execute` returned (sandboxed, runner env):

| file                             | grader              | where                                           |
|----------------------------------|---------------------|-------------------------------------------------|
| bench_cpu_result.json            | inference_benchmark | 2-core AMD EPYC CPU; tiny-llama, c = 1, 2, 4     |
| bench_cpu_result_eager.json      | inference_benchmark | same CPU; eager attention, c = 1, 2, 4, 8        |
| bench_gpu_result.json            | inference_benchmark | NVIDIA H100 80GB HBM3; qwen2.5-0.5b bf16, c = 1, 4, 16, 32 (raw.roofline, a derived copy, left out for size) |
| bench_cpu_open_loop.json         | inference_benchmark | same CPU; tiny-llama, continuous batching, Poisson sweep 5/20/80 req/s + 1 search step, SLA p90, 2 trials (harness output put in the grader's shape by hand; tests trimmed) |
| kv_cpu_result_no_window.json     | kv_calculator       | CPU; tests/runner/kv/submissions/no_sliding_window.py (fails the window cases) |
| kv_gpu_result.json               | kv_calculator       | NVIDIA H100; tests/runner/kv/submissions/correct.py (22 of 22)                  |
| tinytf_cpu_result_mask_off_by_one.json | tiny_transformer | CPU; tests/runner/tinytf/submissions/mask_off_by_one.py (fails its 11 cases) |
| quant_cpu_result_partial_group_ignored.json | quantizer | 2-core AMD EPYC CPU; tests/runner/quant/submissions/partial_group_ignored.py with claims/correct.json (fails its 4 cases, 17 of 21 pass) |
"""

from __future__ import annotations

import html
import json
from functools import cache
from pathlib import Path
from typing import Any

from portfolio.models import Run
from portfolio.runner import protocol

DATA = Path(__file__).resolve().parent / "data"


@cache
def _load(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def recorded(name: str) -> dict[str, Any]:
    """A fresh copy of a recorded result (callers may change it)."""
    return json.loads(_load(name))


def finish_with(run: Run, name: str, **change: Any) -> Run:
    """File a recorded result as the runner's answer for the run's current attempt."""
    result = recorded(name) | change
    attempt = run.current_attempt
    assert attempt is not None
    result.update(attempt_id=attempt.pk, run_id=run.pk)
    assert run.record_result(attempt.pk, protocol.validate_result(result)) == "stored"
    run.refresh_from_db()
    return run


def page_and_api(client: Any, run: Run) -> tuple[str, str, dict[str, Any]]:
    """What the run's owner gets for it: the run page (HTML entities decoded), and the API's JSON
    as text and parsed, through a token of theirs."""
    from tests.factories import create_token

    owner = run.version.artifact.owner
    client.force_login(owner)
    page = html.unescape(client.get(run.get_absolute_url()).content.decode())
    _, raw = create_token(user=owner)
    api = client.get(f"/api/v1/runs/{run.pk}", headers={"Authorization": f"Bearer {raw}"})
    assert api.status_code == 200
    return page, api.content.decode(), api.json()
