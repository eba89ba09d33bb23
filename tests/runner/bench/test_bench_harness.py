"""The harness end to end on the CPU catalog, and checks that need torch (runner env, subprocess).

Run the harness as the worker will (`RUNNER_PYTHON -I harness_run.py input.json output.json`),
then check what it stored from the web env's side: forced output lengths, coherent raw timings,
metrics that recompute identically from the raw section, the roofline's structure and units.
Timing inequalities (floor <= measured, TPOT of one level vs another) are deliberately not
asserted: they depend on the machine's load.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from portfolio.runner.bench import catalog, metrics, model_config, planning, roofline, workload

pytestmark = pytest.mark.runner_env


def test_harness_run_completes_on_cpu(e2e_run: dict[str, Any]) -> None:
    out = e2e_run["output"]
    assert out["status"] == "ok", out.get("message")
    env = out["environment"]
    assert env["device_kind"] == "cpu" and env["torch_device"] == "cpu" and env["cuda"] is None
    assert "+cpu" in env["torch"] or env["torch"]  # a version string, whatever the build
    assert env["transformers"] and env["torch_threads"] == 1 and env["dtype"] == "float32"
    assert out["batching"]["mode"] == "static" and out["raw"]["batching"] == "static"
    assert "EOS is never checked" in out["raw"]["output_length_forcing"]
    assert out["model"]["params"] == out["model"]["params_built"] == model_config.param_count(out["spec"]["config"])
    assert out["model"]["kv_cache"]["match"] is True
    stages = [p["stage"] for p in e2e_run["progress"]]
    assert stages[0] == "start" and stages[-1] == "end"
    done = [p for p in e2e_run["progress"] if p["stage"] == "level" and p["status"] == "done"]
    assert [p["concurrency"] for p in done] == [1, 3]


def test_output_lengths_are_forced_exactly(e2e_run: dict[str, Any], e2e_spec: dict[str, Any]) -> None:
    out = e2e_run["output"]
    # The plan is recomputed here, in the web env, from the spec alone.
    plan = planning.plan_requests(workload.validate(e2e_spec)[0])
    assert any(o == 1 for _, o in plan[0]["requests"]), "the fixture should include a 1-token request"
    for level, level_plan in zip(out["raw"]["levels"], plan, strict=True):
        assert level["concurrency"] == level_plan["concurrency"]
        reqs = sorted(level["requests"], key=lambda r: r["id"])
        assert [(r["prompt_tokens"], r["output_tokens"]) for r in reqs] == [tuple(x) for x in level_plan["requests"]]
        for r in reqs:
            assert r["error"] is None
            assert len(r["token_ns"]) == r["output_tokens"]
        assert level["warmup_batches"] == 1


def test_raw_timings_are_coherent(e2e_run: dict[str, Any]) -> None:
    for level in e2e_run["output"]["raw"]["levels"]:
        assert metrics.check_harness_level(level) == []
        by_id = {r["id"]: r for r in level["requests"]}
        previous_end = None
        for batch in level["batches"]:
            assert batch["rows"] <= level["concurrency"] and batch["error"] is None
            members = [by_id[i] for i in batch["request_ids"]]
            longest = max(members, key=lambda r: r["output_tokens"])
            assert batch["decode_steps"] == longest["output_tokens"] - 1
            assert batch["padded_prompt_tokens"] == max(r["prompt_tokens"] for r in members)
            for r in members:
                # Static batching: one start per batch, and each row's tokens appear at the
                # batch's step times, so a shorter request's times are a prefix of the longest's.
                assert r["start_ns"] == batch["start_ns"]
                assert r["token_ns"] == longest["token_ns"][: r["output_tokens"]]
                assert r["start_ns"] < r["token_ns"][0]
            if previous_end is not None:
                assert batch["start_ns"] >= previous_end  # closed loop: the next batch waits
            previous_end = batch["end_ns"]
        sizes = [b["rows"] for b in level["batches"]]
        assert sum(sizes) == 5 and sizes == [
            min(level["concurrency"], 5 - i) for i in range(0, 5, level["concurrency"])
        ]


def test_metrics_recompute_identically_from_raw(e2e_run: dict[str, Any]) -> None:
    out = e2e_run["output"]
    # Computed by the runner (Python 3.11) and again here (the web env) from the stored raw only.
    stored = json.loads(json.dumps(out["metrics"]))
    for level in stored["levels"]:
        level.pop("peak_memory")
    again = json.loads(json.dumps(metrics.metrics_from_harness_raw(out["raw"], out["spec"]["slo"])))
    assert again == stored
    for level in out["metrics"]["levels"]:
        assert level["completed"] == 5 and level["failed"] == 0
        assert level["total_output_tokens"] == sum(o for _, o in planning.plan_requests(out["spec"])[0]["requests"])
        assert level["ttft_ms"]["n"] == 5 and level["ttft_ms"]["p50"] > 0
        assert level["tpot_ms"]["n"] == sum(1 for _, o in planning.plan_requests(out["spec"])[0]["requests"] if o > 1)
        assert level["goodput_rps"] is not None and level["requests_per_s"] > 0
        assert level["batching"] == "static"


def test_peak_memory_is_reported_as_cpu_rss(e2e_run: dict[str, Any]) -> None:
    for level in e2e_run["output"]["metrics"]["levels"]:
        peak = level["peak_memory"]
        assert peak["kind"] == "cpu_rss" and "RSS" in peak["method"]
        # More than the weights alone (python + torch + the model), less than the machine.
        assert e2e_run["output"]["model"]["weight_bytes"]["total_bytes"] < peak["bytes"] < 64 * 1024**3


def test_roofline_structure_and_units(e2e_run: dict[str, Any]) -> None:
    out = e2e_run["output"]
    report = out["roofline"]
    bw = report["bandwidth"]
    assert bw["device"] == "cpu" and bw["bytes_per_copy"] == 2 * 32 * 1024**2 and bw["iterations"] == 10
    assert 0 < bw["gb_per_s_median"] <= bw["gb_per_s_best"] and len(bw["gb_per_s_all"]) == 10
    weights = out["model"]["weight_bytes"]
    # fp32 weights: 4 bytes per parameter; the untied input embedding is a lookup, not a read.
    assert weights["total_bytes"] == 4 * out["model"]["params"]
    assert weights["lookup_table_bytes"] == 4 * model_config.embedding_params(out["spec"]["config"])
    kv = model_config.kv_bytes_per_token(out["spec"]["config"], "float32")
    for lr, level in zip(report["levels"], out["raw"]["levels"], strict=True):
        assert lr["weight_bytes_read_per_step"] == weights["read_per_step_bytes"] and lr["kv_bytes_per_token"] == kv
        for b, batch in zip(lr["batches"], level["batches"], strict=True):
            assert len(b["floor_ms"]) == len(b["measured_ms"]) == batch["decode_steps"]
            assert all(f > 0 for f in b["floor_ms"]) and all(m > 0 for m in b["measured_ms"])
            if batch["decode_steps"]:
                # KV read grows by one token per row per step, so the floor grows step by step.
                assert b["floor_ms"] == sorted(b["floor_ms"])
                first = roofline.step_floor_s(
                    lr["weight_bytes_read_per_step"],
                    kv,
                    batch["rows"],
                    batch["padded_prompt_tokens"] + 1,
                    lr["bandwidth_gb_per_s"] * 1e9,
                )
                assert b["floor_ms"][0] == pytest.approx(first * 1000)
        assert lr["floor_tpot_ms_mean"] > 0 and lr["measured_tpot_ms_mean"] > 0
        assert lr["efficiency"] == pytest.approx(lr["floor_tpot_ms_mean"] / lr["measured_tpot_ms_mean"])
        tpot = next(m for m in out["metrics"]["levels"] if m["concurrency"] == lr["concurrency"])["tpot_ms"]["mean"]
        assert lr["measured_tpot_ms_mean"] == pytest.approx(tpot, rel=1e-9)  # the same TPOT as the metrics


RUNNER_CHECKS = r"""
import json, random
import numpy as np
import torch
from transformers import CONFIG_MAPPING, AutoModelForCausalLM
from portfolio.runner.bench import catalog, harness, metrics, model_config, roofline, workload

out = {}
# 1. Our percentile equals numpy's default bit for bit.
rng = random.Random(5)
mismatches = 0
for trial in range(300):
    xs = [rng.uniform(0, 1000) for _ in range(rng.randint(1, 60))]
    if trial % 3 == 0:
        xs = [round(x) for x in xs]
    for p in (0, 1, 10, 25, 50, 90, 95, 99, 99.9, 100):
        if metrics.percentile(xs, p) != float(np.percentile(np.array(xs), p)):
            mismatches += 1
out["percentile_mismatches"] = mismatches

# 2. param_count and embedding_params equal the model transformers builds (meta device: no memory).
inline = {
    "qwen3": {"model_type": "qwen3", "hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 48, "vocab_size": 1000, "max_position_embeddings": 512},
    "llama-bias": {"model_type": "llama", "hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 4, "vocab_size": 1000, "max_position_embeddings": 512, "attention_bias": True, "mlp_bias": True, "tie_word_embeddings": True},
    "gpt2-untied": {"model_type": "gpt2", "n_embd": 64, "n_layer": 2, "n_head": 4, "n_inner": 96, "vocab_size": 500, "n_positions": 128, "tie_word_embeddings": False},
}
counts = {}
docs = {name: {"architecture": name} for name in [*catalog.CPU_CATALOG, *catalog.GPU_CATALOG]}
docs.update({name: {"config": cfg} for name, cfg in inline.items()})
for name, doc in docs.items():
    norm, errors = workload.validate({**doc, "dtype": "bfloat16", "prompt_tokens": 8, "output_tokens": 4, "concurrency": [1], "requests": 1})
    assert not errors, errors
    fields = dict(norm["config"]); mt = fields.pop("model_type")
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(CONFIG_MAPPING[mt](**fields), dtype=torch.bfloat16)
    built = sum(p.numel() for p in model.parameters())
    w = roofline.weight_bytes(model)
    counts[name] = [model_config.param_count(norm["config"]), built, 2 * model_config.embedding_params(norm["config"]), w["lookup_table_bytes"]]
out["param_counts"] = counts

# 3. Measured KV bytes per token equal the formula, for each CPU family, in two dtypes.
kv = {}
for name in ("tiny-llama", "tiny-qwen2", "tiny-gpt2"):
    for dtype in ("float32", "bfloat16"):
        norm, _ = workload.validate({"architecture": name, "dtype": dtype, "prompt_tokens": 8, "output_tokens": 4, "concurrency": [1], "requests": 1})
        model = harness.build_model(norm, "cpu")
        kv[f"{name}/{dtype}"] = harness.kv_cache_check(model, norm, "cpu")
out["kv"] = kv

# 4. Refusals and invalid specs come back as such, before any model is built.
out["refused"] = harness.run_benchmark({"architecture": "llama-3.1-8b", "dtype": "bfloat16", "prompt_tokens": 128, "output_tokens": 16, "concurrency": [1], "requests": 2}, device="cpu", roofline=False)
out["invalid"] = harness.run_benchmark({"architecture": "tiny-llama", "dtype": "int4", "prompt_tokens": 0, "output_tokens": 4, "concurrency": [1], "requests": 2}, device="cpu")
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def runner_checks(runner_script: Any) -> dict[str, Any]:
    return runner_script(RUNNER_CHECKS)


def test_percentile_equals_numpy(runner_checks: dict[str, Any]) -> None:
    assert runner_checks["percentile_mismatches"] == 0


def test_param_count_matches_built_models(runner_checks: dict[str, Any]) -> None:
    counts = runner_checks["param_counts"]
    assert set(counts) >= {*catalog.CPU_CATALOG, *catalog.GPU_CATALOG, "qwen3", "llama-bias", "gpt2-untied"}
    for name, (ours, built, lookup_ours, lookup_built) in counts.items():
        assert ours == built, name
        assert lookup_ours == lookup_built, name


def test_kv_formula_matches_measured_cache(runner_checks: dict[str, Any]) -> None:
    for name, check in runner_checks["kv"].items():
        assert check["match"], (name, check)
    assert runner_checks["kv"]["tiny-llama/float32"]["measured_bytes_per_token"] == 2 * 4 * 2 * 32 * 4


def test_harness_refuses_what_the_device_cannot_run(runner_checks: dict[str, Any]) -> None:
    refused = runner_checks["refused"]
    assert refused["status"] == "refused" and "GPU catalog" in refused["message"]
    assert refused["device"]["kind"] == "cpu"
    invalid = runner_checks["invalid"]
    assert invalid["status"] == "invalid"
    assert {e["path"] for e in invalid["errors"]} == {"dtype", "prompt_tokens"}


def test_harness_script_reports_bad_input(tmp_path: Path, harness_runner: Any) -> None:
    out, _, proc = harness_runner({"spec": {"architecture": "tiny-llama"}}, tmp_path)
    assert proc.returncode == 0 and out["status"] == "invalid"
    assert {e["path"] for e in out["errors"]} >= {"prompt_tokens", "output_tokens", "concurrency", "requests"}


@pytest.mark.gpu
def test_gpu_run_reports_device_memory(tmp_path: Path, harness_runner: Any, runner_script: Any) -> None:
    """A small real-size model on CUDA: device memory is the allocator's peak, above the weights."""
    if not runner_script("import json, torch; print(json.dumps(torch.cuda.is_available()))"):
        pytest.skip("the runner env's torch sees no CUDA device")
    job = {
        "spec": {
            "architecture": "qwen2.5-0.5b",
            "dtype": "bfloat16",
            "prompt_tokens": {"kind": "uniform", "min": 64, "max": 256},
            "output_tokens": 32,
            "concurrency": [1, 8],
            "requests": 8,
            "warmup_requests": 2,
        },
        "device": "cuda",
    }
    out, _, proc = harness_runner(job, tmp_path, timeout=600)
    assert proc.returncode == 0 and out["status"] == "ok", out.get("message")
    assert out["environment"]["device_kind"] == "cuda" and out["environment"]["cuda"]
    weights = out["model"]["weight_bytes"]["total_bytes"]
    assert weights == 2 * 494_032_768
    for level in out["metrics"]["levels"]:
        peak = level["peak_memory"]
        assert peak["kind"] == "cuda_allocated" and peak["bytes"] > weights
        assert level["completed"] == 8 and level["failed"] == 0
    assert out["roofline"]["bandwidth"]["gb_per_s_best"] > 100  # any datacenter GPU's HBM
    assert (
        metrics.metrics_from_harness_raw(out["raw"], out["spec"]["slo"])["levels"][0]["tpot_ms"]
        == out["metrics"]["levels"][0]["tpot_ms"]
    )
