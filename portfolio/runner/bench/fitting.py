"""Will it fit? The memory and time a normalised workload needs, and a runner's refusal with its reason.

Standard library only: the web app shows `fits`'s verdict for the example workloads on the spec
page, and the runner asks it before building anything (harness.py), so a workload its device
cannot hold is refused with the terms of the estimate rather than failing out of memory.
"""

from __future__ import annotations

import math
from typing import Any

from . import catalog, lengths, model_config, workload

GiB = 1024**3


# What a CPU runner accepts beyond its catalog: an inline config no bigger than CPU_MAX_PARAMS,
# and a workload whose estimated run time (see estimate) fits CPU_TIME_BUDGET_S. The rates below
# are rough figures for one core of the 2-core development machine (prefill is matmul-bound and
# fast; a decode step is bound by reading the weights and by per-step Python overhead); they are
# meant to refuse the absurd, not to predict.
CPU_MAX_PARAMS = 150_000_000
CPU_TIME_BUDGET_S = 180.0
CPU_PREFILL_FLOP_PER_S = 40e9
CPU_DECODE_FLOP_PER_S = 10e9
CPU_BYTES_PER_S = 8e9
CPU_STEP_OVERHEAD_S = 0.003
# Memory a CPU runner grants a benchmark when the caller does not say (the sandbox's default
# memory limit is 4 GiB; torch and Python themselves take a few hundred MiB of it).
CPU_DEFAULT_MEMORY_BYTES = 4 * GiB
RUNTIME_OVERHEAD_BYTES = {"cpu": 600 * 1024**2, "cuda": 1 * GiB}
# Fraction of device memory a workload may plan to use; the rest absorbs allocator
# fragmentation and our estimate's slack.
MEMORY_HEADROOM = 0.9


def estimate(spec: dict[str, Any]) -> dict[str, Any]:
    """Memory a normalised spec needs (bytes, by term) and its estimated run time on a CPU runner."""
    config, dtype = spec["config"], spec["dtype"]
    b = model_config.DTYPE_BYTES[dtype]
    params = model_config.param_count(config)
    p_max = lengths.bounds(spec["prompt_tokens"])[1]
    o_max = lengths.bounds(spec["output_tokens"])[1]
    c_max = max(spec["concurrency"])
    ctx = p_max + o_max
    weights = params * b
    kv = model_config.kv_bytes_per_token(config, dtype) * c_max * ctx
    if config["model_type"] == "gpt2":
        hidden, inter, heads = (
            config["n_embd"],
            config.get("n_inner") or 4 * config["n_embd"],
            config["n_head"],
        )
    else:
        hidden, inter, heads = (
            config["hidden_size"],
            config["intermediate_size"],
            config["num_attention_heads"],
        )
    tokens = c_max * p_max
    # The largest transient tensors of a prefill: a few hidden-sized activations, the MLP's
    # intermediate tensors, and (eager attention only) the full score matrix with its softmax
    # copy. SDPA's kernels do not materialise the scores. Logits are kept for the last position
    # only, upcast to float32.
    activations = tokens * (4 * hidden + 3 * inter) * b + c_max * config["vocab_size"] * 4
    if spec["attn_implementation"] == "eager":
        activations += 2 * c_max * heads * p_max * p_max * b
    # CPU time: per batch, a prefill of rows x padded prompt tokens (2 FLOPs per dense parameter
    # per token, plus attention's ~4·P·hidden per token per layer) and decode steps that each
    # read the dense weights once and do 2 FLOPs per dense parameter per row. Static batches pad
    # to the longest request, hence the maxima.
    layers = config["n_layer"] if config["model_type"] == "gpt2" else config["num_hidden_layers"]
    dense = params - model_config.embedding_params(config)
    seconds = 0.0
    # Open loop and continuous batching: estimated as static batches at the cap (continuous
    # batching prefills more often but never idles a row), with a run lasting at least as long
    # as its arrivals take; a sweep of measured points is estimated as that many runs at
    # concurrency 1, the slowest.
    runs = workload.runs_per_level(spec.get("sweep"), spec.get("sla")) * spec.get("trials", 1)
    rates = [spec["arrival"]["rate"]] if "rate" in spec["arrival"] else list((spec.get("sweep") or {}).get("rates", []))
    n_requests = spec["requests"] + (spec["arrival"].get("ramp_up_requests") or 0)
    for c in spec["concurrency"] if not spec.get("sweep") or rates else [1]:
        sizes = [c] * (spec["requests"] // c) + ([spec["requests"] % c] if spec["requests"] % c else [])
        sizes += [c] * math.ceil(spec["warmup_requests"] / c)
        level_s = 0.0
        for rows in sizes:
            prefill = rows * p_max * (2 * dense + 2 * p_max * hidden * layers)
            step = max(dense * b / CPU_BYTES_PER_S, rows * 2 * dense / CPU_DECODE_FLOP_PER_S) + CPU_STEP_OVERHEAD_S
            level_s += prefill / CPU_PREFILL_FLOP_PER_S + (o_max - 1) * step
        arrivals_s = max(((n_requests - 1) / r for r in rates), default=0.0)
        seconds += max(level_s, arrivals_s) * runs
    return {
        "params": params,
        "weight_bytes": weights,
        "kv_bytes": kv,
        "activation_bytes": activations,
        "cpu_seconds": seconds,
        "max_concurrency": c_max,
        "max_context": ctx,
    }


def fits(spec: dict[str, Any], device: dict[str, Any]) -> tuple[bool, str]:
    """Can this device run this normalised spec? (True, summary) or (False, the reason).

    ``device`` is ``{"kind": "cpu" | "cuda", "name": str, "memory_bytes": int}``: for a GPU its
    total memory, for a CPU the memory the benchmark may use (the sandbox limit).
    """
    kind = device.get("kind")
    if kind not in ("cpu", "cuda"):
        return False, f"unknown device kind {kind!r}"
    name = spec.get("architecture")
    if kind == "cpu":
        if name is not None and name not in catalog.CPU_CATALOG:
            return False, (
                f"{name} is in the GPU catalog; a CPU runner runs only {', '.join(catalog.CPU_CATALOG)} "
                "or a small inline config"
            )
        if spec["dtype"] == "float16":
            return (
                False,
                "float16 is not offered on a CPU runner (slow, partly emulated kernels); use float32 or bfloat16",
            )
        if (spec.get("engine") or {}).get("compile"):
            return False, (
                "engine.compile is offered on GPU runners only: compiling the decode step takes minutes on a "
                "CPU runner (about 2 to 4 minutes per batch shape for tiny-llama on the 2-core development machine)"
            )
    est = estimate(spec)
    if kind == "cpu" and est["params"] > CPU_MAX_PARAMS:
        return False, (
            f"the model has {est['params'] / 1e6:.1f} M parameters; a CPU runner takes at most "
            f"{CPU_MAX_PARAMS / 1e6:.0f} M"
        )
    if kind == "cpu" and est["cpu_seconds"] > CPU_TIME_BUDGET_S:
        return False, (
            f"the workload would take about {est['cpu_seconds']:.0f} s on a CPU runner, over its "
            f"budget of {CPU_TIME_BUDGET_S:.0f} s; use fewer requests, shorter lengths or fewer levels"
        )
    memory = device.get("memory_bytes") or (CPU_DEFAULT_MEMORY_BYTES if kind == "cpu" else 0)
    budget = memory * MEMORY_HEADROOM
    overhead = RUNTIME_OVERHEAD_BYTES[kind]
    need = est["weight_bytes"] + est["kv_bytes"] + est["activation_bytes"] + overhead
    terms = (
        f"weights {est['weight_bytes'] / GiB:.2f} GiB + KV cache {est['kv_bytes'] / GiB:.2f} GiB "
        f"(concurrency {est['max_concurrency']} x {est['max_context']} tokens) + activations "
        f"{est['activation_bytes'] / GiB:.2f} GiB + runtime {overhead / GiB:.2f} GiB"
    )
    where = device.get("name") or kind
    if need > budget:
        return False, (
            f"needs about {need / GiB:.2f} GiB ({terms}) but {where} offers "
            f"{budget / GiB:.2f} GiB ({MEMORY_HEADROOM:.0%} of {memory / GiB:.2f} GiB)"
        )
    return True, f"about {need / GiB:.2f} GiB of {budget / GiB:.2f} GiB ({terms})"
