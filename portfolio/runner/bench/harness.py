"""The inference benchmark harness: build a model from config, run the workload, time every token.

Runs in the runner env only (torch, transformers); torch is imported inside functions so the
module can be imported for its documentation without torch. ``harness_run.py`` is the script
the sandbox starts; ``bench/inference_overhead.py`` calls ``decode_batch`` directly.

How a level runs (batching mode "static", arrival "closed"):

* the measured requests are split, in order, into batches of ``concurrency`` requests (the last
  batch may be smaller);
* a batch's prompts are left-padded to the longest prompt in it and prefilled together;
* then the batch decodes one token per row per step, greedily, for exactly as many steps as its
  longest requested output; EOS is never checked, so every request gets exactly the number of
  tokens it asked for. A shorter request's last token ends it, and its row idles (keeps
  decoding, unrecorded) until the batch is done: that is what static batching costs;
* the next batch starts when the previous one has finished (closed loop).

Every request records integer ``time.perf_counter_ns`` times, relative to one origin per run:
its start (the batch's prefill begins), the time of each of its tokens, and its end (= its last
token). On CUDA a timing event is recorded on the stream after each step and all are read at the
end (StepClock), so a token's time is when the device finished producing it, and timing never
stalls the queue of kernels.
"""

from __future__ import annotations

import gc
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

from . import engine, fitting, metrics, model_config, planning, stats, validity, workload

Progress = Callable[[dict[str, Any]], None]

FORCING = "fixed decode-step count per batch; EOS is never checked, generation never stops early"
BATCHING_DESCRIPTION = (
    "static: requests split in order into batches of `concurrency`; prompts left-padded to the "
    "batch's longest and prefilled together; the batch decodes until its longest output is done; "
    "the next batch starts when it has finished (closed loop)"
)


def _torch_dtype(name: str) -> Any:
    import torch

    return {
        "float32": torch.float32,
        "bfloat16": torch.bfloat16,
        "float16": torch.float16,
    }[name]


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def detect_device(requested: str = "auto", cpu_memory_bytes: int | None = None) -> dict[str, Any]:
    """The device this run uses: {"kind", "torch_device", "name", "memory_bytes"}.

    "auto" takes CUDA when torch sees one, else the CPU. For a CPU the memory is the budget the
    caller grants (the sandbox limit), defaulting to fitting.CPU_DEFAULT_MEMORY_BYTES, not the
    machine's RAM.
    """
    import torch

    if requested in ("auto", "cuda") and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return {
            "kind": "cuda",
            "torch_device": "cuda:0",
            "name": props.name,
            "memory_bytes": int(props.total_memory),
        }
    if requested == "cuda":
        raise RuntimeError("CUDA was requested but torch sees no CUDA device")
    return {
        "kind": "cpu",
        "torch_device": "cpu",
        "name": f"{_cpu_name()} ({os.cpu_count()} logical CPUs, {torch.get_num_threads()} torch threads)",
        "memory_bytes": int(cpu_memory_bytes or fitting.CPU_DEFAULT_MEMORY_BYTES),
    }


def build_model(spec: dict[str, Any], torch_device: str) -> Any:
    """The model of a normalised spec with random weights: seeded, eval mode, requested dtype.

    Built directly on the target device so a GPU model is never materialised in float32 on the
    host first. The normalised config spells out every shape field (see model_config.FAMILIES), so this
    is the model model_config.param_count counted.
    """
    import torch
    from transformers import CONFIG_MAPPING, AutoModelForCausalLM

    fields = dict(spec["config"])
    model_type = fields.pop("model_type")
    config = CONFIG_MAPPING[model_type](**fields)
    torch.manual_seed(spec["seed"])
    with torch.device(torch_device):
        model = AutoModelForCausalLM.from_config(
            config,
            dtype=_torch_dtype(spec["dtype"]),
            attn_implementation=spec["attn_implementation"],
        )
    model.eval()
    return model


def _sync_fn(torch_device: str) -> Callable[[], None]:
    import torch

    if torch_device.startswith("cuda"):
        return torch.cuda.synchronize
    return lambda: None


class StepClock:
    """When each decode step's token exists, in perf_counter_ns.

    On a CPU the host clock is read after each step. On CUDA a timing event is recorded on the
    stream after each step and all of them are read once at the end: synchronising the device
    before every clock read would stop the host from queueing the next step's kernels while the
    GPU runs this one, and that stall would be charged to the model. Event times are mapped onto
    the host clock through one event recorded right after a synchronised host read.
    """

    def __init__(self, torch_device: str) -> None:
        self.device = torch_device
        self.cuda = torch_device.startswith("cuda")
        self._host: list[int] = []
        self._events: list[Any] = []
        self._origin_ns = 0
        self._origin_event: Any = None

    def start(self) -> int:
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            self._origin_event = torch.cuda.Event(enable_timing=True)
            self._origin_event.record()
        self._origin_ns = time.perf_counter_ns()
        return self._origin_ns

    def mark(self) -> int:
        """Record now (host) or queue an event (CUDA); return the mark's index into times()."""
        if self.cuda:
            import torch

            event = torch.cuda.Event(enable_timing=True)
            event.record()
            self._events.append(event)
            return len(self._events) - 1
        self._host.append(time.perf_counter_ns())
        return len(self._host) - 1

    def times(self) -> list[int]:
        if not self.cuda:
            return self._host
        if not self._events:
            return []
        self._events[-1].synchronize()
        return [self._origin_ns + round(self._origin_event.elapsed_time(e) * 1e6) for e in self._events]


def make_batch_inputs(prompt_lens: list[int], vocab_size: int, torch_device: str, seed: int) -> tuple[Any, Any, Any]:
    """Random prompt ids, left-padded: (input_ids, attention_mask or None, position_ids or None).

    Without padding the mask and positions are omitted, so the model takes its unpadded fast
    path (a causal mask it builds itself), exactly as the bare loop in the overhead benchmark.
    With padding, positions count real tokens only, so a padded row computes what it would alone.
    """
    import torch

    gen = torch.Generator().manual_seed(seed)
    rows, width = len(prompt_lens), max(prompt_lens)
    ids = torch.randint(0, vocab_size, (rows, width), generator=gen)
    if min(prompt_lens) == width:
        return ids.to(torch_device), None, None
    mask = torch.ones(rows, width, dtype=torch.long)
    for i, n in enumerate(prompt_lens):
        mask[i, : width - n] = 0
        ids[i, : width - n] = 0
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    return ids.to(torch_device), mask.to(torch_device), positions.to(torch_device)


def decode_batch(
    model: Any,
    input_ids: Any,
    attention_mask: Any,
    position_ids: Any,
    steps: int,
    torch_device: str,
    options: dict[str, Any] | None = None,
    tokens_out: list[Any] | None = None,
) -> tuple[int, list[int]]:
    """Prefill then decode ``steps`` tokens per row in total (1 from the prefill + steps - 1).

    Returns (start_ns, token_ns): the clock before the prefill, and when each step's token
    exists (one entry per step, shared by every row of the batch; see StepClock). Inference mode,
    greedy argmax, a fresh DynamicCache built from the model's config; with the engine option
    ``cache: static`` a StaticCache sized to the batch (positions passed explicitly), and with
    ``compile`` the model's forward compiled once (``compiled_forward``). ``tokens_out``, when
    given, receives each step's tokens (tests compare the cache variants with it).
    """
    import torch
    from transformers import DynamicCache, StaticCache

    options = options or workload.DEFAULT_ENGINE
    static = options["cache"] == "static"
    forward = compiled_forward(model, torch_device) if options["compile"] else model
    width = input_ids.shape[1]
    clock = StepClock(torch_device)
    with torch.inference_mode():
        if static:
            cache = StaticCache(config=model.config, max_cache_len=width + steps)
            extra = {"cache_position": torch.arange(width, device=input_ids.device)}
        else:
            cache, extra = DynamicCache(config=model.config), {}
        start = clock.start()
        out = model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
            **extra,
        )
        token = out.logits[:, -1, :].argmax(dim=-1, keepdim=True)
        clock.mark()
        if tokens_out is not None:
            tokens_out.append(token[:, 0].tolist())
        if attention_mask is not None:
            ones = attention_mask.new_ones((attention_mask.shape[0], 1))
            position_ids = position_ids[:, -1:]
        elif static:
            position_ids = torch.full((input_ids.shape[0], 1), width - 1, device=input_ids.device)
        for step in range(steps - 1):
            if attention_mask is not None:
                attention_mask = torch.cat([attention_mask, ones], dim=1)
            if position_ids is not None:
                position_ids = position_ids + 1
            if static:
                extra = {"cache_position": torch.tensor([width + step], device=input_ids.device)}
            out = forward(
                input_ids=token,
                attention_mask=attention_mask,
                position_ids=position_ids,
                past_key_values=cache,
                use_cache=True,
                **extra,
            )
            token = out.logits[:, -1, :].argmax(dim=-1, keepdim=True)
            clock.mark()
            if tokens_out is not None:
                tokens_out.append(token[:, 0].tolist())
        times = clock.times()
    return start, times


def compiled_forward(model: Any, torch_device: str) -> Any:
    """The model's forward under torch.compile, made once per model: CUDA graphs on a GPU
    ("reduce-overhead"), inductor's default on a CPU. Only decode steps go through it; the
    prefill stays eager (its shape changes with every batch)."""
    import torch

    if getattr(model, "_bench_compiled", None) is None:
        mode = "reduce-overhead" if torch_device.startswith("cuda") else "default"
        model._bench_compiled = torch.compile(model.forward, mode=mode, dynamic=False, fullgraph=False)
    return model._bench_compiled


class PeakMemory:
    """Peak memory over a stretch of the run: CUDA allocator peak, or the process's peak RSS.

    CPU: Linux keeps the resident-set high-water mark (VmHWM); writing "5" to
    /proc/self/clear_refs resets it, so each level gets its own peak. Where that is refused
    (some sandboxes), the figure falls back to getrusage's ru_maxrss, the peak since the process
    started, and says so.
    """

    def __init__(self, torch_device: str) -> None:
        self.cuda = torch_device.startswith("cuda")
        self.method = ""

    def reset(self) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.method = "torch.cuda.max_memory_allocated (allocator peak since the level began)"
            return
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
                fh.write("5")
            self.method = "peak RSS (VmHWM, reset via /proc/self/clear_refs at the level's start)"
        except OSError:
            self.method = "peak RSS since process start (getrusage ru_maxrss; reset refused)"

    def read(self) -> dict[str, Any]:
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            return {
                "kind": "cuda_allocated",
                "bytes": int(torch.cuda.max_memory_allocated()),
                "method": self.method,
            }
        if self.method.startswith("peak RSS (VmHWM"):
            try:
                with open("/proc/self/status", encoding="ascii") as fh:
                    for line in fh:
                        if line.startswith("VmHWM:"):
                            return {
                                "kind": "cpu_rss",
                                "bytes": int(line.split()[1]) * 1024,
                                "method": self.method,
                            }
            except OSError:
                pass
        import resource

        self.method = "peak RSS since process start (getrusage ru_maxrss)"
        return {
            "kind": "cpu_rss",
            "bytes": int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024,
            "method": self.method,
        }


def _batches(pairs: list[tuple[int, int]], size: int) -> list[list[int]]:
    return [list(range(i, min(i + size, len(pairs)))) for i in range(0, len(pairs), size)]


def run_level(
    model: Any,
    level_plan: dict[str, Any],
    *,
    torch_device: str,
    seed: int,
    level_index: int,
    origin_ns: int,
    progress: Progress | None = None,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Warm up, then run one level's measured requests; return its raw section."""
    import torch

    vocab = model.config.vocab_size
    c = level_plan["concurrency"]
    warm = level_plan["warmup"]
    for b, ids in enumerate(_batches(warm, c)):
        inputs = make_batch_inputs(
            [warm[i][0] for i in ids],
            vocab,
            torch_device,
            seed + 1_000_000 + 1000 * level_index + b,
        )
        decode_batch(model, *inputs, max(warm[i][1] for i in ids), torch_device, options)
    gc.collect()
    memory = PeakMemory(torch_device)
    memory.reset()
    pairs = level_plan["requests"]
    requests: list[dict[str, Any]] = []
    batches = []
    n_batches = len(_batches(pairs, c))
    every = max(1, n_batches // 10)
    for b, ids in enumerate(_batches(pairs, c)):
        prompt_lens = [pairs[i][0] for i in ids]
        output_lens = [pairs[i][1] for i in ids]
        steps = max(output_lens)
        error = None
        start = end = 0
        times: list[int] = []
        try:
            inputs = make_batch_inputs(prompt_lens, vocab, torch_device, seed + 1000 * level_index + b)
            start, times = decode_batch(model, *inputs, steps, torch_device, options)
            end = times[-1]
        except (torch.OutOfMemoryError, MemoryError) as exc:
            # Running out of memory fails this batch's requests and the run goes on (the level
            # reports them as failed). Any other exception is a harness bug and propagates.
            error = f"{type(exc).__name__}: {str(exc)[:300]}"
            start = end = time.perf_counter_ns()
            if torch_device.startswith("cuda"):
                torch.cuda.empty_cache()
        batches.append(
            {
                "index": b,
                "request_ids": ids,
                "rows": len(ids),
                "padded_prompt_tokens": max(prompt_lens),
                "decode_steps": steps - 1,
                "start_ns": start - origin_ns,
                "end_ns": end - origin_ns,
                "error": error,
            }
        )
        for i, p, o in zip(ids, prompt_lens, output_lens, strict=True):
            own = [] if error else [t - origin_ns for t in times[:o]]
            requests.append(
                {
                    "id": i,
                    "batch": b,
                    "prompt_tokens": p,
                    "output_tokens": o,
                    "start_ns": start - origin_ns,
                    "token_ns": own,
                    "end_ns": own[-1] if own else end - origin_ns,
                    "error": error,
                }
            )
        # At most ~10 progress lines per level: the worker caps progress lines per step.
        if progress and ((b + 1) % every == 0 or b + 1 == n_batches):
            progress({"stage": "batch", "concurrency": c, "batch": b + 1, "of": n_batches})
    return {
        "concurrency": c,
        "warmup_batches": len(_batches(warm, c)),
        "batches": batches,
        "requests": requests,
        "peak_memory": memory.read(),
    }


def describe_batching(spec: dict[str, Any]) -> str:
    if spec["batching"] == "static" and spec["arrival"]["kind"] == "closed":
        return BATCHING_DESCRIPTION
    arrival = spec["arrival"]
    if arrival["kind"] == "closed":
        how = "closed loop: `concurrency` requests in flight, each finished request replaced at once by the next"
    else:
        cap = arrival.get("max_concurrency")
        how = (
            f"open loop, {arrival['kind']} arrivals"
            + (f" (burstiness {arrival['burstiness']:g})" if arrival["kind"] == "gamma" else "")
            + (f", at most {cap} in flight" if cap else ", no cap on requests in flight")
            + "; latency counts from each request's scheduled arrival, so queueing shows"
        )
    return f"{engine.POLICY[spec['batching']]}; {how}"


def describe_engine(spec: dict[str, Any], device: dict[str, Any]) -> dict[str, Any]:
    options = spec.get("engine") or workload.DEFAULT_ENGINE
    compiled = bool(options["compile"])
    return {
        "cache": options["cache"],
        "compile": compiled,
        "compile_mode": (
            ("reduce-overhead (CUDA graphs)" if device["kind"] == "cuda" else "default (inductor)")
            if compiled
            else None
        ),
        "scheduler": "transformers model.forward, greedy argmax, our iteration-level scheduler"
        if spec["batching"] == "continuous" or spec["arrival"]["kind"] != "closed"
        else "transformers model.forward, greedy argmax, fixed static batches",
    }


def _engine_level(
    model: Any,
    spec: dict[str, Any],
    level_plan: dict[str, Any],
    *,
    torch_device: str,
    level_index: int,
    origin_ns: int,
    rate: float | None,
    role: str,
    should_stop: Any = None,
) -> dict[str, Any]:
    """One level through engine.serve: closed loop (rate None) or open loop at rate (inf: all at once)."""
    import math

    cap = level_plan["concurrency"] if role != "sync" else 1
    closed = rate is None
    warm = level_plan["warmup"]
    seed = spec["seed"]
    if warm:
        clock = StepClock(torch_device)
        engine.serve(
            model,
            [engine.Request(id=i, prompt_tokens=p, output_tokens=o) for i, (p, o) in enumerate(warm)],
            mode=spec["batching"],
            cap=cap,
            clock=clock,
            origin_ns=clock.start(),
            prompt_seed=seed + 1_000_000 + 1000 * level_index,
            closed=True,
        )
    gc.collect()
    memory = PeakMemory(torch_device)
    memory.reset()
    measured = level_plan["requests"]
    ramp = level_plan.get("ramp_up", []) if not closed else []
    requests = [
        engine.Request(id=len(measured) + i, prompt_tokens=p, output_tokens=o, ramp_up=True)
        for i, (p, o) in enumerate(ramp)
    ] + [engine.Request(id=i, prompt_tokens=p, output_tokens=o) for i, (p, o) in enumerate(measured)]
    clock = StepClock(torch_device)
    clock.start()
    if not closed:
        assert rate is not None
        begin = time.perf_counter_ns() + 1_000_000
        offsets = planning.arrival_offsets_s(spec["arrival"], len(requests), rate)
        for r, offset in zip(requests, offsets, strict=True):
            r.arrival_ns = begin + round(offset * 1e9)
    out = engine.serve(
        model,
        requests,
        mode=spec["batching"],
        cap=cap,
        clock=clock,
        origin_ns=origin_ns,
        prompt_seed=seed + 1000 * level_index,
        closed=closed,
        should_stop=should_stop,
    )
    return {
        "concurrency": cap,
        "rate": None if rate is None or math.isinf(rate) else rate,
        "role": role,
        "batching": spec["batching"],
        "arrival": "closed" if closed else ("all at once" if math.isinf(rate or 0) else spec["arrival"]["kind"]),
        "warmup_requests": len(warm),
        **out,
        "peak_memory": memory.read(),
    }


def _sla_stopper(spec: dict[str, Any], n: int) -> Any:
    """engine.serve's should_stop for a sweep point: stats.sla_already_broken over the finished requests."""
    sla = spec.get("sla")
    if not sla:
        return None
    return lambda observed: stats.sla_already_broken(observed, n, sla)


def run_levels(
    model: Any,
    spec: dict[str, Any],
    plan: list[dict[str, Any]],
    *,
    torch_device: str,
    origin_ns: int,
    emit: Progress,
) -> list[dict[str, Any]]:
    """Every level of the spec, each trial, and a sweep with its SLA search; raw levels in run order."""
    trials = spec.get("trials", 1)
    levels: list[dict[str, Any]] = []
    static_closed = spec["batching"] == "static" and spec["arrival"]["kind"] == "closed"

    def run(level_plan: dict[str, Any], index: int, rate: float | None, role: str) -> list[dict[str, Any]]:
        done = []
        for t in range(trials):
            emit(
                {
                    "stage": "level",
                    "status": "start",
                    "concurrency": level_plan["concurrency"],
                    "rate": rate,
                    "role": role,
                    "trial": t + 1,
                    "index": len(levels) + 1,
                }
            )
            if static_closed:
                level = run_level(
                    model,
                    level_plan,
                    torch_device=torch_device,
                    seed=spec["seed"],
                    level_index=index,
                    origin_ns=origin_ns,
                    progress=emit,
                    options=spec.get("engine"),
                )
            else:
                stopper = _sla_stopper(spec, len(level_plan["requests"])) if role in ("sweep", "search") else None
                level = _engine_level(
                    model,
                    spec,
                    level_plan,
                    torch_device=torch_device,
                    level_index=index,
                    origin_ns=origin_ns,
                    rate=rate,
                    role=role,
                    should_stop=stopper,
                )
            if trials > 1:
                level["trial"] = t + 1
            levels.append(level)
            done.append(level)
            summary = metrics.compute_level(*metrics.requests_from_harness_level(level), spec["slo"])
            emit(
                {
                    "stage": "level",
                    "status": "done",
                    "concurrency": level["concurrency"],
                    "rate": level.get("rate"),
                    "index": len(levels),
                    "tpot_ms_mean": summary["tpot_ms"]["mean"],
                    "failed": summary["failed"],
                }
            )
        return done

    if not workload.is_open_loop(spec):
        for i, level_plan in enumerate(plan):
            run(level_plan, i, None, "level")
        return levels
    level_plan = plan[0]
    sweep, sla = spec.get("sweep"), spec.get("sla")
    if sweep is None:
        run(level_plan, 0, spec["arrival"]["rate"], "level")
        return levels
    import math

    if "rates" in sweep:
        rates = list(sweep["rates"])
    else:
        low = _achieved(run(level_plan, 0, None, "sync"), spec["slo"])
        high = _achieved(run(level_plan, 1, math.inf, "saturation"), spec["slo"])
        n = sweep["points"]
        rates = [low + (high - low) * (k + 1) / (n + 1) for k in range(n)] if high > low else [low]
    for k, rate in enumerate(rates):
        run(level_plan, 2 + k, rate, "sweep")
    for step in range(sla["search_steps"] if sla else 0):
        points = stats.rate_points(
            metrics.metrics_from_harness_raw({"batching": spec["batching"], "levels": levels}, spec["slo"])["levels"],
            sla,
        )
        rate = stats.next_search_rate(points)
        if rate is None:
            break
        run(level_plan, 100 + step, rate, "search")
    return levels


def _achieved(levels: list[dict[str, Any]], slo: dict[str, float]) -> float:
    """The mean request rate the trials of a level sustained."""
    rates = [
        metrics.compute_level(*metrics.requests_from_harness_level(level), slo)["requests_per_s"] or 0.0
        for level in levels
    ]
    return sum(rates) / len(rates)


def environment(device: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    import torch
    import transformers

    return {
        "device": device["name"],
        "device_kind": device["kind"],
        "torch_device": device["torch_device"],
        "device_memory_bytes": device["memory_bytes"],
        "cuda": torch.version.cuda,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "dtype": spec["dtype"],
        "attn_implementation": spec["attn_implementation"],
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "cpu_count": os.cpu_count(),
        "clock": "time.perf_counter_ns"
        + (" mapped from CUDA events recorded after each step" if device["kind"] == "cuda" else ""),
    }


def kv_cache_check(model: Any, spec: dict[str, Any], torch_device: str) -> dict[str, Any]:
    """Measure the KV bytes one token adds (a 2-row, 8-token prefill) and compare with the formula."""
    import torch
    from transformers import DynamicCache

    with torch.inference_mode():
        cache = DynamicCache(config=model.config)
        ids = torch.zeros((2, 8), dtype=torch.long, device=torch_device)
        model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
        measured = sum(t.numel() * t.element_size() for layer in cache.layers for t in (layer.keys, layer.values))
    per_token = measured // 16
    formula = model_config.kv_bytes_per_token(spec["config"], spec["dtype"])
    return {
        "measured_bytes_per_token": per_token,
        "formula_bytes_per_token": formula,
        "match": per_token == formula,
    }


def run_benchmark(
    spec_input: dict[str, Any],
    *,
    device: str = "auto",
    cpu_memory_bytes: int | None = None,
    roofline: bool = True,
    bandwidth_bytes: int | None = None,
    threads: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Validate, check the fit, build, run every level, compute metrics and the roofline.

    Returns a dict with "status": "ok" (and metrics, raw, roofline, environment, ...),
    "invalid" (errors) or "refused" (the device cannot hold it; the reason).
    """
    import torch

    from . import roofline as rl

    if threads:
        # The runner sets this to the CPU quota of the sandbox: more torch threads than cores
        # makes every parallel op wait for descheduled threads.
        torch.set_num_threads(int(threads))
    emit = progress or (lambda _event: None)
    spec, errors = workload.validate(spec_input)
    if errors:
        return {
            "status": "invalid",
            "message": "the workload spec is invalid",
            "errors": errors,
        }
    assert spec is not None
    dev = detect_device(device, cpu_memory_bytes)
    ok, reason = fitting.fits(spec, dev)
    if not ok:
        return {"status": "refused", "message": reason, "spec": spec, "device": dev}
    emit({"stage": "fits", "message": reason})

    bandwidth = None
    if roofline:
        emit({"stage": "bandwidth"})
        bandwidth = rl.measure_bandwidth(dev["torch_device"], nbytes=bandwidth_bytes)
        emit({"stage": "bandwidth", "gb_per_s": round(bandwidth["gb_per_s_best"], 2)})

    emit({"stage": "build", "architecture": spec["architecture"], "device": dev["name"]})
    t_build = time.perf_counter()
    model = build_model(spec, dev["torch_device"])
    build_s = time.perf_counter() - t_build
    weights = rl.weight_bytes(model)
    kv_check = kv_cache_check(model, spec, dev["torch_device"])
    plan = planning.plan_requests(spec)

    origin = time.perf_counter_ns()
    levels = run_levels(model, spec, plan, torch_device=dev["torch_device"], origin_ns=origin, emit=emit)
    raw = {
        "time_unit": "ns",
        "clock": "time.perf_counter_ns, relative to one origin per run",
        "batching": spec["batching"],
        "arrival": spec["arrival"]["kind"],
        "output_length_forcing": FORCING,
        "levels": levels,
    }
    result_metrics = metrics.metrics_from_harness_raw(raw, spec["slo"])
    for lm, level in zip(result_metrics["levels"], levels, strict=True):
        lm["peak_memory"] = level["peak_memory"]
    checks = {validity.level_key(level): validity.check_level(level) for level in levels}
    report = None
    if bandwidth is not None:
        report = rl.roofline_report(
            raw,
            weights["read_per_step_bytes"],
            kv_check["measured_bytes_per_token"],
            bandwidth,
        )
    env = environment(dev, spec)
    env["engine"] = describe_engine(spec, dev)
    return {
        "status": "ok",
        "message": f"{len(levels)} levels on {dev['name']}",
        "spec": spec,
        "batching": {
            "mode": spec["batching"],
            "description": describe_batching(spec),
            "arrival": spec["arrival"]["kind"],
        },
        "sweep": stats.sweep_summary(result_metrics["levels"], spec.get("sla")) if spec.get("sweep") else None,
        "metrics": result_metrics,
        "raw": raw,
        "roofline": report,
        "model": {
            "params": model_config.param_count(spec["config"]),
            "params_built": sum(p.numel() for p in model.parameters()),
            "weight_bytes": weights,
            "kv_cache": kv_check,
            "build_s": build_s,
        },
        "checks": checks,
        "definitions": metrics.DEFINITIONS,
        "environment": env,
        "python_executable": sys.executable,
    }
