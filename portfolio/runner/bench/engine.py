"""The reference engine's scheduler: requests arrive on a schedule, batches form between steps.

Runner env only (torch, transformers; imported inside functions). ``serve`` runs one level of
requests with either batching mode over one left-padded ``DynamicCache``:

* **continuous** (iteration-level scheduling): at every step boundary the arrived requests are
  admitted, first come first served, while fewer than ``cap`` are in flight. An iteration is
  either a prefill of the newcomers (left-padded together, one token each) or one decode step of
  every running request: newcomers are prefilled first, so running requests pause for one
  prefill (vLLM's default without chunked prefill). A request leaves the batch at its last
  token; its rows of the cache are dropped and the padding columns no row needs any more are
  trimmed off the left.
* **static**: a batch forms only when the engine is idle, from the requests that have arrived
  (up to ``cap``), and runs until its longest request is done; newcomers wait for it.

Why not transformers' own continuous batching (``generate_batch`` / ``ContinuousBatchingManager``
with its paged cache, in 5.23)? It runs on a CPU, but sizing its paged cache took 110 s for a
2-layer toy model on the development machine (no psutil), it schedules on its own thread with
its own clock, and it reports times per request rather than per step, so neither arrivals nor
token times would be ours to control and check. This scheduler uses its cache classes instead.

Arrivals: open loop, each request has a scheduled arrival (``arrival_ns``) and its latency counts
from there, queueing included; closed loop, ``cap`` requests arrive at the start and each
finished request is replaced by the next one, arriving at that moment. Times: every step's start
and end come from ``harness.StepClock`` (host clock on a CPU, CUDA events on a GPU).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

POLICY = {
    "continuous": (
        "continuous (iteration-level): between steps, arrived requests join the running batch first come "
        "first served while fewer than the cap are in flight; an iteration prefills the newcomers together "
        "(running requests wait one step) or decodes one token for every running request; a request leaves "
        "at its last token"
    ),
    "static": (
        "static: when the engine is idle, the arrived requests (up to the cap) form a batch, prefilled together "
        "and decoded until its longest request is done; requests arriving meanwhile wait for the whole batch"
    ),
}


@dataclass
class Request:
    id: int
    prompt_tokens: int
    output_tokens: int
    arrival_ns: int | None = None  # None: closed loop, set when a slot frees
    ramp_up: bool = False
    admitted_ns_step: int | None = None
    token_steps: list[int] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    error: str | None = None
    not_run: bool = False

    @property
    def done(self) -> bool:
        return len(self.token_steps) >= self.output_tokens


def prompt_ids(n: int, vocab_size: int, seed: int) -> list[int]:
    """A request's prompt, drawn from its own seed so it does not depend on its batch."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab_size, (n,), generator=gen).tolist()


class _Batch:
    """The running batch: one left-padded DynamicCache and, on the host, each row's length."""

    def __init__(self, torch_device: str) -> None:
        self.device = torch_device
        self.rows: list[Request] = []
        self.lengths: list[int] = []  # tokens in the cache per row
        self.cache: Any = None
        self.mask: Any = None
        self.positions: Any = None
        self.last: Any = None  # the latest token per row, [rows, 1]

    @property
    def width(self) -> int:
        return 0 if self.mask is None else int(self.mask.shape[1])

    def prefill(self, model: Any, newcomers: list[Request], prompts: list[list[int]]) -> _Batch:
        import torch
        from transformers import DynamicCache

        width = max(len(p) for p in prompts)
        ids = torch.zeros((len(prompts), width), dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for i, p in enumerate(prompts):
            ids[i, width - len(p) :] = torch.tensor(p)
            mask[i, width - len(p) :] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        new = _Batch(self.device)
        new.rows, new.lengths = list(newcomers), [len(p) for p in prompts]
        new.cache = DynamicCache(config=model.config)
        new.mask = mask.to(self.device)
        out = model(
            input_ids=ids.to(self.device),
            attention_mask=new.mask,
            position_ids=positions.to(self.device),
            past_key_values=new.cache,
            use_cache=True,
            logits_to_keep=1,
        )
        new.last = out.logits[:, -1, :].argmax(dim=-1, keepdim=True)
        new.positions = positions[:, -1:].to(self.device)
        return new

    def merge(self, other: _Batch) -> None:
        """Append other's rows, left-padding whichever cache is narrower."""
        import torch

        if not self.rows:
            self.__dict__.update(other.__dict__)
            return
        width = max(self.width, other.width)

        def pad(t: Any, w: int, dim: int) -> Any:
            if t.shape[dim] == w:
                return t
            shape = list(t.shape)
            shape[dim] = w - t.shape[dim]
            return torch.cat([t.new_zeros(shape), t], dim=dim)

        for mine, theirs in zip(self.cache.layers, other.cache.layers, strict=True):
            mine.keys = torch.cat([pad(mine.keys, width, 2), pad(theirs.keys, width, 2)])
            mine.values = torch.cat([pad(mine.values, width, 2), pad(theirs.values, width, 2)])
        self.mask = torch.cat([pad(self.mask, width, 1), pad(other.mask, width, 1)])
        self.positions = torch.cat([self.positions, other.positions])
        self.last = torch.cat([self.last, other.last])
        self.rows += other.rows
        self.lengths += other.lengths

    def decode(self, model: Any) -> None:
        import torch

        self.mask = torch.cat([self.mask, self.mask.new_ones((len(self.rows), 1))], dim=1)
        self.positions = self.positions + 1
        out = model(
            input_ids=self.last,
            attention_mask=self.mask,
            position_ids=self.positions,
            past_key_values=self.cache,
            use_cache=True,
        )
        self.last = out.logits[:, -1, :].argmax(dim=-1, keepdim=True)
        self.lengths = [n + 1 for n in self.lengths]

    def keep(self, keep: list[int]) -> None:
        """Drop every row not in keep, then the padding columns no remaining row needs."""
        import torch

        if not keep:
            self.__init__(self.device)  # type: ignore[misc]
            return
        if len(keep) == len(self.rows):
            return
        index = torch.tensor(keep, device=self.device)
        self.rows = [self.rows[i] for i in keep]
        self.lengths = [self.lengths[i] for i in keep]
        trim = self.width - max(self.lengths)
        for layer in self.cache.layers:
            layer.keys = layer.keys.index_select(0, index)[:, :, trim:, :]
            layer.values = layer.values.index_select(0, index)[:, :, trim:, :]
        self.mask = self.mask.index_select(0, index)[:, trim:]
        self.positions = self.positions.index_select(0, index)
        self.last = self.last.index_select(0, index)


def serve(
    model: Any,
    requests: list[Request],
    *,
    mode: str,
    cap: int,
    clock: Any,
    origin_ns: int,
    prompt_seed: int,
    closed: bool = False,
    keep_tokens: bool = False,
    should_stop: Callable[[list[dict[str, float | None]]], str | None] | None = None,
) -> dict[str, Any]:
    """Run the requests; return the raw level's requests and steps (times relative to origin_ns).

    ``requests`` are in arrival order; open loop, each has ``arrival_ns`` (absolute
    perf_counter_ns). ``should_stop`` is asked after every step that finished a request, with the
    TTFT and TPOT (ms) of the measured requests finished so far; a reason stops the level, and the
    requests it never ran are marked not_run. (On a GPU that question synchronises the device.)
    """
    import torch

    vocab = model.config.vocab_size
    pending = deque(requests)
    if closed:
        start = time.perf_counter_ns()
        for r in list(pending)[:cap]:
            r.arrival_ns = start
    queue: deque[Request] = deque()
    batch = _Batch(clock.device)
    steps: list[dict[str, Any]] = []
    finished: list[Request] = []
    finished_ids: set[int] = set()
    stopped = None
    wall_start = time.perf_counter_ns()

    def step(kind: str, work: Callable[[], Any], rows: int, admitted: list[int]) -> tuple[int, Any]:
        begin = clock.mark()
        result = work()
        end = clock.mark()
        steps.append({"kind": kind, "begin": begin, "end": end, "rows": rows, "width": 0, "admitted": admitted})
        return end, result

    with torch.inference_mode():
        while pending or queue or batch.rows:
            now = time.perf_counter_ns()
            while pending and pending[0].arrival_ns is not None and pending[0].arrival_ns <= now:
                queue.append(pending.popleft())
            room = cap - len(batch.rows) if mode == "continuous" else (cap if not batch.rows else 0)
            admit = [queue.popleft() for _ in range(min(room, len(queue)))]
            try:
                if admit:
                    prompts = [prompt_ids(r.prompt_tokens, vocab, prompt_seed + r.id) for r in admit]
                    end, new = step(
                        "prefill", partial(batch.prefill, model, admit, prompts), len(admit), [r.id for r in admit]
                    )
                    for r in admit:
                        r.admitted_ns_step = steps[-1]["begin"]
                        r.token_steps.append(end)
                    if keep_tokens:
                        for r, t in zip(admit, new.last[:, 0].tolist(), strict=True):
                            r.tokens.append(t)
                    batch.merge(new)
                    steps[-1]["width"] = batch.width
                elif batch.rows:
                    live = [not r.done for r in batch.rows]
                    end, _ = step("decode", partial(batch.decode, model), len(batch.rows), [])
                    steps[-1]["width"] = batch.width
                    for r, alive in zip(batch.rows, live, strict=True):
                        if alive:
                            r.token_steps.append(end)
                    if keep_tokens:
                        for r, alive, t in zip(batch.rows, live, batch.last[:, 0].tolist(), strict=True):
                            if alive:
                                r.tokens.append(t)
                else:
                    wait = (pending[0].arrival_ns - time.perf_counter_ns()) / 1e9 if pending else 0
                    if wait > 0.0005:
                        time.sleep(wait - 0.0003)
                    continue
            except (torch.OutOfMemoryError, MemoryError) as exc:
                error = f"{type(exc).__name__}: {str(exc)[:300]}"
                for r in [*batch.rows, *admit]:
                    r.error = error
                finished += [*batch.rows, *admit]
                finished_ids.update(r.id for r in [*batch.rows, *admit])
                batch = _Batch(clock.device)
                if clock.device.startswith("cuda"):
                    torch.cuda.empty_cache()
                continue
            new_done = [r for r in batch.rows if r.done and r.id not in finished_ids]
            finished_ids.update(r.id for r in new_done)
            finished += new_done
            if mode == "continuous":
                batch.keep([i for i, r in enumerate(batch.rows) if not r.done])
            elif all(r.done for r in batch.rows):
                batch.keep([])
            if closed:
                freed = time.perf_counter_ns()
                for _ in new_done:
                    if pending and pending[0].arrival_ns is None:
                        pending[0].arrival_ns = freed
            if should_stop is not None and new_done:
                now_times = clock.times()
                stopped = should_stop([_observed(r, now_times) for r in finished if not r.ramp_up])
                if stopped:
                    for r in [*pending, *queue, *batch.rows]:
                        r.not_run = True
                    break
    times = clock.times()
    wall_ns = time.perf_counter_ns() - wall_start
    out_requests = []
    for r in requests:
        tokens = [times[s] - origin_ns for s in r.token_steps] if not r.not_run else []
        admitted = times[r.admitted_ns_step] - origin_ns if r.admitted_ns_step is not None else None
        record: dict[str, Any] = {
            "id": r.id,
            "prompt_tokens": r.prompt_tokens,
            "output_tokens": r.output_tokens,
            "start_ns": (r.arrival_ns - origin_ns) if r.arrival_ns is not None else None,
            "admitted_ns": admitted,
            "token_ns": [] if r.error else tokens,
            "end_ns": tokens[-1] if tokens and not r.error else admitted,
            "error": r.error,
        }
        if r.ramp_up:
            record["ramp_up"] = True
        if r.not_run:
            record["not_run"] = True
        if keep_tokens:
            record["tokens"] = r.tokens[: r.output_tokens]
        out_requests.append(record)
    out_steps = [
        {
            "kind": s["kind"],
            "start_ns": times[s["begin"]] - origin_ns,
            "end_ns": times[s["end"]] - origin_ns,
            "rows": s["rows"],
            "width": s["width"],
            "admitted": s["admitted"],
        }
        for s in steps
    ]
    return {"requests": out_requests, "steps": out_steps, "stopped_early": stopped, "wall_ns": wall_ns}


def _observed(r: Request, times: list[int]) -> dict[str, float | None]:
    if r.error or not r.token_steps or r.arrival_ns is None:
        return {"ttft_ms": None, "tpot_ms": None}
    first, last = times[r.token_steps[0]], times[r.token_steps[-1]]
    k = len(r.token_steps) - 1
    return {"ttft_ms": (first - r.arrival_ns) / 1e6, "tpot_ms": (last - first) / 1e6 / k if k else None}
