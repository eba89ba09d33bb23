"""The case table of the benchmark-client grader (artifact 07): each case is a workload the
learner's client runs and a behaviour of the reference server it runs against.

Standard library only. A workload is written in the open-loop harness's words (prompt and
output lengths, requests, warm-ups, seed, arrival, concurrency, SLO) plus `stream`; `workload`
turns it into what the client receives: the same fields with every request spelled out, drawn
by the harness's own planning code (bench/planning.py), so the client never re-implements our
random draws and the grader knows exactly what should have been sent.

Public cases cover the layer's list (one request, many concurrent, short and long prompts and
outputs, streaming and not, an open loop at a rate). Hidden cases change the server's behaviour
so that the usual mistakes give different numbers; the client cannot tell them apart except by
what it measures (the workload it gets carries no name and no visibility).
"""

from __future__ import annotations

from typing import Any, TypedDict

from portfolio.runner import casetable
from portfolio.runner.bench import lengths, planning

MODEL = "layerwise-reference"

PUBLIC = casetable.VISIBLE
HIDDEN = casetable.HIDDEN

# What each figure checks, and the hint a learner reads when a case fails on it.
CATEGORY_HINTS: dict[str, str] = {
    "workload": (
        "Send exactly the workload: every warm-up and every measured request once, each with its own prompt "
        "length and max_tokens (and ignore_eos), streaming or not as the workload says."
    ),
    "ttft": (
        "TTFT runs from sending the request to the first event that carries generated text. The response "
        "headers and an empty first event arrive before any token exists."
    ),
    "tpot": (
        "TPOT is (E2E - TTFT) / (output tokens - 1): the time per token after the first, so the first "
        "token's wait is not spread over the others."
    ),
    "e2e": "E2E runs from sending the request to the last token (or the end of a non-streamed body).",
    "itl": "ITL is every gap between two consecutive events that carry text, pooled over all requests.",
    "tokens": (
        "Count output tokens from the server's usage (ask for it with stream_options.include_usage), not "
        "from the number of stream events: one event can carry several tokens."
    ),
    "percentiles": (
        "Compute each percentile from the sorted values (linear interpolation between closest ranks, as "
        "numpy.percentile); a mean or a maximum is not a p95 or a p99."
    ),
    "open_loop": (
        "Under a rate workload each request leaves at its scheduled time, whatever is still in flight. "
        "Waiting for earlier requests to finish turns it into a closed loop and hides the queueing."
    ),
    "clock": (
        "Stamp every time with time.perf_counter(): sent_s just before the request goes out, the others when "
        "each event is read."
    ),
    "warmup": "Warm-up requests go first and stay out of the records and the summary.",
    "throughput": (
        "Throughput divides completed requests (or their output tokens) by the time from the first request "
        "sent to the last token received; goodput counts only requests that meet every SLO."
    ),
}


class Case(TypedDict):
    name: str
    visibility: str
    category: str
    why: str
    workload: dict[str, Any]
    server: dict[str, Any]


def _w(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "prompt_tokens": 32,
        "output_tokens": 16,
        "requests": 8,
        "warmup_requests": 1,
        "seed": 0,
        "arrival": {"kind": "closed"},
        "concurrency": 1,
        "stream": True,
        "slo": {},
    }
    base.update(fields)
    return base


CASES: list[Case] = [
    {
        "name": "single_request",
        "visibility": PUBLIC,
        "category": "ttft",
        "why": "One request at a time, streamed: TTFT, TPOT and E2E of an idle server, after a slow cold start.",
        "workload": _w(requests=6, output_tokens=16, warmup_requests=1),
        "server": {"cold_requests": 1, "cold_ms": 120.0},
    },
    {
        "name": "concurrent_8",
        "visibility": PUBLIC,
        "category": "percentiles",
        "why": "Eight requests in flight against a batch of four: the rest queue, so TTFT spreads and its p99 "
        "is far from its mean.",
        "workload": _w(
            requests=24,
            warmup_requests=2,
            concurrency=8,
            seed=3,
            prompt_tokens={"kind": "uniform", "min": 16, "max": 256},
            output_tokens={"kind": "uniform", "min": 8, "max": 32},
            slo={"ttft_ms": 60.0, "tpot_ms": 12.0},
        ),
        "server": {"max_batch": 4},
    },
    {
        "name": "short_prompt_long_output",
        "visibility": PUBLIC,
        "category": "tpot",
        "why": "A few prompt tokens and many output tokens: decode dominates, so TPOT and ITL carry the latency.",
        "workload": _w(requests=4, concurrency=2, prompt_tokens=8, output_tokens=48),
        "server": {},
    },
    {
        "name": "long_prompt_short_output",
        "visibility": PUBLIC,
        "category": "tpot",
        "why": "Long prompts and four output tokens: prefill dominates, so TTFT is most of E2E and TPOT is small.",
        "workload": _w(requests=6, concurrency=2, prompt_tokens=2000, output_tokens=4),
        "server": {"prefill_ms_per_token": 0.05},
    },
    {
        "name": "non_streaming",
        "visibility": PUBLIC,
        "category": "e2e",
        "why": "No streaming: only E2E, the token count from usage and throughput can be measured.",
        "workload": _w(
            requests=12, concurrency=4, stream=False, output_tokens={"kind": "uniform", "min": 4, "max": 24}
        ),
        "server": {},
    },
    {
        "name": "poisson_rate",
        "visibility": PUBLIC,
        "category": "open_loop",
        "why": "An open loop: Poisson arrivals at 20 requests/s; each request must leave at its scheduled time.",
        "workload": _w(requests=16, arrival={"kind": "poisson", "rate": 20.0}, concurrency=None, slo={"e2e_ms": 150.0}),
        "server": {},
    },
    {
        "name": "jitter",
        "visibility": HIDDEN,
        "category": "percentiles",
        "why": "Each engine step's length varies by up to 60 %.",
        "workload": _w(requests=16, concurrency=4, seed=5, output_tokens=20),
        "server": {"jitter": 0.6, "seed": 11},
    },
    {
        "name": "bursts",
        "visibility": HIDDEN,
        "category": "open_loop",
        "why": "Bursty arrivals (gamma, burstiness 0.3) against a batch of four.",
        "workload": _w(
            requests=20, arrival={"kind": "gamma", "rate": 25.0, "burstiness": 0.3}, concurrency=None, seed=9
        ),
        "server": {"max_batch": 4},
    },
    {
        "name": "chunked_stream",
        "visibility": HIDDEN,
        "category": "tokens",
        "why": "Every stream event carries four tokens.",
        "workload": _w(requests=6, concurrency=2, output_tokens=32),
        "server": {"chunk_tokens": 4},
    },
    {
        "name": "slow_first_token",
        "visibility": HIDDEN,
        "category": "ttft",
        "why": "An empty event goes out at once and the first token 150 ms later.",
        "workload": _w(requests=6, concurrency=2, output_tokens=12),
        "server": {"first_token_ms": 150.0},
    },
    {
        "name": "stalls",
        "visibility": HIDDEN,
        "category": "itl",
        "why": "Every seventh engine step stalls for 60 ms.",
        "workload": _w(requests=12, concurrency=4, output_tokens=24),
        "server": {"stall_every": 7, "stall_ms": 60.0},
    },
    {
        "name": "saturating_rate",
        "visibility": HIDDEN,
        "category": "open_loop",
        "why": "A constant 40 requests/s against a server that completes about 20: the queue grows.",
        "workload": _w(requests=20, arrival={"kind": "constant", "rate": 40.0}, concurrency=None, output_tokens=16),
        "server": {"max_batch": 2},
    },
]

all_cases, public_cases, hidden_cases = casetable.case_sets(CASES)


def workload(case: Case) -> dict[str, Any]:
    """What the client's run() receives for a case: the workload's fields, with `warmup` and
    `requests` spelled out (each measured request with its `arrival_s` in an open loop)."""
    spec = dict(case["workload"])
    errors: list[dict[str, str]] = []
    prompt = lengths.normalise(errors, "prompt_tokens", spec["prompt_tokens"])
    output = lengths.normalise(errors, "output_tokens", spec["output_tokens"])
    if errors or prompt is None or output is None:
        raise ValueError(f"case {case['name']}: {errors}")
    arrival = dict(spec["arrival"])
    if arrival["kind"] != "closed":
        arrival.setdefault("seed", spec["seed"])
    open_loop = arrival["kind"] != "closed"
    normalised = {
        "seed": spec["seed"],
        "prompt_tokens": prompt,
        "output_tokens": output,
        "requests": spec["requests"],
        "warmup_requests": spec["warmup_requests"],
        "concurrency": [1 if open_loop else spec["concurrency"]],
        "arrival": arrival,
    }
    level = planning.plan_requests(normalised)[0]
    warmup = level["warmup"][: spec["warmup_requests"]]
    offsets = planning.arrival_offsets_s(arrival, spec["requests"], arrival["rate"]) if open_loop else None
    requests = []
    for i, (p, o) in enumerate(level["requests"]):
        item: dict[str, Any] = {"prompt_tokens": p, "output_tokens": o}
        if offsets is not None:
            item["arrival_s"] = round(offsets[i], 6)
        requests.append(item)
    out: dict[str, Any] = {
        "model": MODEL,
        "stream": spec["stream"],
        "prompt_tokens": prompt,
        "output_tokens": output,
        "seed": spec["seed"],
        "arrival": arrival,
        "slo": dict(spec["slo"]),
        "warmup_requests": spec["warmup_requests"],
        "warmup": [{"prompt_tokens": p, "output_tokens": o} for p, o in warmup],
        "requests": requests,
    }
    if not open_loop:
        out["concurrency"] = spec["concurrency"]
    return out


def server_settings(case: Case) -> dict[str, Any]:
    """The server behaviour of a case, with its request cap: the workload's requests plus a margin."""
    spec = case["workload"]
    cap = 2 * (spec["requests"] + spec["warmup_requests"]) + 10
    return {"max_requests": cap, **case["server"]}
