"""The reference engine in the runner env (subprocess): continuous batching, open-loop runs, engine options.

Timing inequalities between modes are not asserted (they depend on the machine's load); what is
asserted is what the scheduler guarantees: greedy tokens independent of the batching mode, a
newcomer served while others decode, metrics that recompute identically from the stored timings,
and valid runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from portfolio.runner.bench import metrics, stats, validity, workload

pytestmark = pytest.mark.runner_env

ENGINE_SCRIPT = """
import json, torch
torch.set_num_threads(1)
from portfolio.runner.bench import engine, harness, workload
spec, _ = workload.validate({"architecture": "tiny-llama", "dtype": "float32", "prompt_tokens": 8,
                             "output_tokens": 4, "concurrency": [1], "requests": 1})
model = harness.build_model(spec, "cpu")
SHAPES = [(5, 9), (12, 3), (7, 1), (20, 6), (9, 5), (3, 12)]

def serve(mode, arrivals_s, cap):
    reqs = [engine.Request(id=i, prompt_tokens=p, output_tokens=o) for i, (p, o) in enumerate(SHAPES)]
    clock = harness.StepClock("cpu")
    origin = clock.start()
    for r, a in zip(reqs, arrivals_s):
        r.arrival_ns = origin + int(a * 1e9)
    return engine.serve(model, reqs, mode=mode, cap=cap, clock=clock, origin_ns=origin, prompt_seed=7, keep_tokens=True)

arrivals = [0, 0.001, 0.002, 0.03, 0.03, 0.05]
out = {mode: serve(mode, arrivals, 3) for mode in ("continuous", "static")}
out["one_by_one"] = serve("continuous", [0.0] * 6, 1)  # every request alone
# The static cache against the dynamic one, same prompts, same tokens.
ids, mask, pos = harness.make_batch_inputs([5, 9], model.config.vocab_size, "cpu", 3)
tokens = {}
for cache in ("dynamic", "static"):
    seen = []
    harness.decode_batch(model, ids, mask, pos, 6, "cpu", {"cache": cache, "compile": False}, seen)
    tokens[cache] = seen
out["cache_tokens"] = tokens
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def served(runner_script: Any) -> dict[str, Any]:
    return runner_script(ENGINE_SCRIPT)


def test_continuous_batching_gives_the_tokens_static_batching_gives(served: dict[str, Any]) -> None:
    cont = [r["tokens"] for r in served["continuous"]["requests"]]
    static = [r["tokens"] for r in served["static"]["requests"]]
    alone = [r["tokens"] for r in served["one_by_one"]["requests"]]
    assert cont == static == alone
    assert [len(t) for t in cont] == [9, 3, 1, 6, 5, 12]


def test_a_request_arriving_while_others_decode_starts_before_they_finish(served: dict[str, Any]) -> None:
    by_id = {r["id"]: r for r in served["continuous"]["requests"]}
    # Request 3 arrives at 30 ms while request 0 (9 tokens) is decoding; it joins at the next step.
    assert by_id[3]["token_ns"][0] < by_id[0]["end_ns"]
    static = {r["id"]: r for r in served["static"]["requests"]}
    assert static[3]["admitted_ns"] >= static[0]["end_ns"]  # static: it waits for the whole batch
    kinds = [s["kind"] for s in served["continuous"]["steps"]]
    assert "prefill" in kinds[kinds.index("decode") :]  # prefills interleaved with decoding


def test_every_engine_level_passes_the_validity_checks(served: dict[str, Any]) -> None:
    for mode in ("continuous", "static", "one_by_one"):
        level = {"concurrency": 3, **served[mode]}
        assert validity.check_level(level) == [], mode
    steps = served["continuous"]["steps"]
    assert max(s["rows"] for s in steps) <= 3  # the cap holds


def test_the_static_cache_gives_the_dynamic_caches_tokens(served: dict[str, Any]) -> None:
    assert served["cache_tokens"]["static"] == served["cache_tokens"]["dynamic"]


OPEN_SPEC: dict[str, Any] = {
    "architecture": "tiny-llama",
    "dtype": "float32",
    "prompt_tokens": {"kind": "uniform", "min": 4, "max": 16},
    "output_tokens": {"kind": "uniform", "min": 1, "max": 6},
    "requests": 10,
    "warmup_requests": 2,
    "arrival": {"kind": "poisson", "max_concurrency": 4, "ramp_up_requests": 2, "seed": 1},
    "batching": "continuous",
    "sweep": {"rates": [5, 40]},
    "sla": {"ttft_ms": 2000, "tpot_ms": 2000, "percentile": 90, "search_steps": 1},
    "trials": 2,
    "slo": {"ttft_ms": 2000},
}


@pytest.fixture(scope="module")
def open_run(tmp_path_factory: pytest.TempPathFactory, harness_runner: Any) -> dict[str, Any]:
    job = {"spec": OPEN_SPEC, "device": "cpu", "threads": 1, "bandwidth_bytes": 16 * 1024**2}
    out, _, proc = harness_runner(job, tmp_path_factory.mktemp("bench-open"))
    assert proc.returncode == 0 and out["status"] == "ok", out.get("message")
    return out


def test_an_open_loop_sweep_runs_every_rate_and_trial_validly(open_run: dict[str, Any]) -> None:
    levels = open_run["raw"]["levels"]
    assert [(lv["role"], lv["rate"], lv["trial"]) for lv in levels] == [
        ("sweep", 5.0, 1),
        ("sweep", 5.0, 2),
        ("sweep", 40.0, 1),
        ("sweep", 40.0, 2),
    ]  # both rates meet the generous SLA: nothing to bisect
    assert all(problems == [] for problems in open_run["checks"].values())
    for level in levels:
        measured = [r for r in level["requests"] if not r.get("ramp_up")]
        assert len(measured) == 10 and sum(1 for r in level["requests"] if r.get("ramp_up")) == 2
        assert all(r["start_ns"] <= r["admitted_ns"] for r in measured)
    sweep = open_run["sweep"]
    assert sweep["max_rate_meeting_sla"] == 40.0 and all(p["meets"] for p in sweep["points"])
    assert "continuous" in open_run["batching"]["description"] and "poisson" in open_run["batching"]["description"]
    assert open_run["environment"]["engine"]["cache"] == "dynamic"


def test_open_loop_metrics_and_the_sweep_recompute_identically_from_the_stored_timings(
    open_run: dict[str, Any],
) -> None:
    again = metrics.metrics_from_harness_raw(open_run["raw"], open_run["spec"]["slo"])
    stored = [{k: v for k, v in lv.items() if k != "peak_memory"} for lv in open_run["metrics"]["levels"]]
    assert json.loads(json.dumps(again["levels"])) == json.loads(json.dumps(stored))
    summary = stats.sweep_summary(again["levels"], open_run["spec"]["sla"])
    assert json.loads(json.dumps(summary)) == open_run["sweep"]
    assert stored[0]["ttft_ms"]["reported"]["p50"]["ci"] is not None


def test_an_sla_no_rate_can_meet_stops_the_sweep_points_early(tmp_path: Path, harness_runner: Any) -> None:
    spec = dict(OPEN_SPEC, trials=1, sla={"ttft_ms": 0.001, "percentile": 50, "search_steps": 1})
    out, _, proc = harness_runner({"spec": spec, "device": "cpu", "threads": 1, "roofline": False}, tmp_path)
    assert proc.returncode == 0 and out["status"] == "ok", out.get("message")
    assert out["sweep"]["max_rate_meeting_sla"] is None
    for level in out["raw"]["levels"]:
        assert level["stopped_early"] and any(r.get("not_run") for r in level["requests"])
    assert all(problems == [] for problems in out["checks"].values())  # stopped is not dropped


def test_the_spec_and_fitting_refuse_compiling_on_a_cpu(tmp_path: Path, harness_runner: Any) -> None:
    spec = {**{k: v for k, v in OPEN_SPEC.items() if k not in ("arrival", "sweep", "sla", "batching")}}
    spec |= {"concurrency": [2], "engine": {"cache": "static", "compile": True}}
    assert workload.validate(spec)[1] == []
    out, _, _ = harness_runner({"spec": spec, "device": "cpu", "roofline": False}, tmp_path)
    assert out["status"] == "refused" and "engine.compile" in out["message"]


@pytest.mark.gpu
def test_gpu_sweep_and_compiled_decode_step(tmp_path: Path, harness_runner: Any, runner_script: Any) -> None:
    """On CUDA: a continuous-batching Poisson sweep, and the static-cache compiled decode step (CUDA graphs)."""
    if not runner_script("import json, torch; print(json.dumps(torch.cuda.is_available()))"):
        pytest.skip("the runner env's torch sees no CUDA device")
    base = {"architecture": "qwen2.5-0.5b", "dtype": "bfloat16", "prompt_tokens": 128, "output_tokens": 64}
    sweep = {
        **base,
        "requests": 64,
        "arrival": {"kind": "poisson", "max_concurrency": 16},
        "batching": "continuous",
        "sweep": {"points": 3},
        "sla": {"ttft_ms": 200, "tpot_ms": 40, "percentile": 90},
    }
    out, _, proc = harness_runner({"spec": sweep, "device": "cuda"}, tmp_path / "sweep", timeout=600)
    assert proc.returncode == 0 and out["status"] == "ok", out.get("message")
    assert all(problems == [] for problems in out["checks"].values())
    assert out["sweep"]["points"]
    compiled = {**base, "concurrency": [1, 8], "requests": 16, "engine": {"cache": "static", "compile": True}}
    out, _, proc = harness_runner({"spec": compiled, "device": "cuda"}, tmp_path / "compiled", timeout=600)
    assert proc.returncode == 0 and out["status"] == "ok", out.get("message")
    assert out["environment"]["engine"]["compile_mode"].startswith("reduce-overhead")
    assert all(problems == [] for problems in out["checks"].values())
