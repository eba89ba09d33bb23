"""The inference benchmark's refusals in words, like the KV cases' hints: what was refused, why, and
what to change in workload.json, each change naming its field.

Two kinds of refusal reach a run: the workload spec is invalid (each error carries the dotted path
of its field, from portfolio/runner/bench/workload.py, on the web side or again in the harness), or
the runner cannot hold a valid workload (portfolio/runner/bench/fitting.py says why in one
sentence). The grader stores the first as metrics["spec_errors"] and the second as
metrics["refusal"]; runs graded before that carry only their message, which is read the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from portfolio.runner import protocol

INVALID_PREFIX = "the workload spec is invalid: "
REFUSED_PREFIX = "this runner cannot hold the workload: "

# What each top-level field of workload.json is for, said when one of its values is refused.
FIELD_ADVICE = {
    "spec_version": "Write the spec version the contract page shows.",
    "architecture": "Name a model of the catalogue on the contract page, or describe a small one in `config` instead.",
    "config": "Give the model's shape (layers, hidden size, heads, vocabulary) as the contract page lists it.",
    "dtype": "Use one of the data types the contract page lists (float32 or bfloat16 on a CPU runner).",
    "attn_implementation": "Leave it out for the default, or name one the contract page lists.",
    "prompt_tokens": "Give the prompt length as a whole number of tokens or a range the contract page allows.",
    "output_tokens": "Give the output length as a whole number of tokens or a range the contract page allows.",
    "requests": "Set how many requests each level measures, within the limit given.",
    "warmup_requests": "Set how many unmeasured requests warm each level up, within the limit given.",
    "seed": "Use a whole number from 0 to 4,294,967,295.",
    "slo": "Give each objective (ttft_ms, tpot_ms, e2e_ms) as a positive number of milliseconds.",
    "arrival": "Use a closed loop, or an open loop with a rate the contract page allows.",
    "concurrency": "List the concurrency levels as whole numbers within the limit given.",
    "batching": "Choose one of the batching modes the contract page lists.",
    "engine": "Use only the engine options the contract page lists.",
    "sweep": "Give the sweep's rates as the contract page describes (an open-loop arrival only).",
    "sla": "Give the objective the sweep searches against as the contract page describes.",
    "trials": "Repeat each level a whole number of times, within the limit given.",
}


@dataclass
class Change:
    field: str  # a dotted path in workload.json, or "" where the refusal names none
    advice: str


@dataclass
class Refusal:
    what: str  # what was refused, in a sentence
    why: str  # the harness's or the validator's reason
    changes: list[Change] = field(default_factory=list)


# fitting.fits's reasons, recognised by their wording (tests/portfolio/test_bench_refusals.py runs
# fitting itself, so a rewording there fails the test): the fields to change and how.
FIT_RULES: list[tuple[re.Pattern[str], list[Change]]] = [
    (
        re.compile(r"is in the GPU catalog"),
        [Change("architecture", "Name a model of the CPU catalogue, or describe a small one in `config`.")],
    ),
    (re.compile(r"^float16 is not offered"), [Change("dtype", "Use float32 or bfloat16 on a CPU runner.")]),
    (re.compile(r"^engine\.compile is offered"), [Change("engine.compile", "Set it to false on a CPU runner.")]),
    (
        re.compile(r"parameters; a CPU runner takes at most"),
        [Change("config", "Describe a smaller model: fewer layers or a narrower hidden size.")],
    ),
    (
        re.compile(r"would take about .* on a CPU runner"),
        [
            Change("requests", "Measure fewer requests per level."),
            Change("output_tokens", "Generate fewer tokens per request (and shorten prompt_tokens)."),
            Change("concurrency", "List fewer concurrency levels."),
        ],
    ),
    (
        re.compile(r"^needs about .* GiB"),
        [
            Change("concurrency", "Lower the highest level: the KV cache holds one context per request in flight."),
            Change("output_tokens", "Shorten the context (prompt_tokens + output_tokens) each request keeps."),
            Change("dtype", "A 2-byte type (bfloat16) halves the weights and the cache."),
        ],
    ),
]


def _top_field(path: str) -> str:
    return re.split(r"[.\[]", path, maxsplit=1)[0]


def _invalid(errors: list[dict[str, Any]]) -> Refusal:
    changes = []
    for error in errors:
        path = str(error.get("path") or "")
        advice = FIELD_ADVICE.get(_top_field(path), "Remove it, or fix it as the contract page describes.")
        changes.append(Change(path, f"{str(error.get('message', '')).rstrip('.')}. {advice}"))
    what = "Your workload.json was refused before anything ran: it does not follow the workload spec."
    return Refusal(what, f"{len(errors)} field{'s' if len(errors) != 1 else ''} to fix.", changes)


def _parsed_errors(listed: str) -> list[dict[str, str]]:
    """The errors of a message written before spec_errors was stored ("path: message; ...")."""
    errors = []
    for item in listed.split("; "):
        path, _, message = item.partition(": ")
        errors.append({"path": "" if path == "(top)" else path, "message": message})
    return errors


def _refused(reason: str) -> Refusal:
    what = "The runner refused your workload: the spec is valid, but this runner cannot run it as written."
    for pattern, changes in FIT_RULES:
        if pattern.search(reason):
            return Refusal(what, reason, changes)
    return Refusal(what, reason, [])


def explain(run: Any) -> Refusal | None:
    """The refusal of an inference benchmark run in words, or None when it was not refused."""
    if run.verdict != protocol.VERDICT_INVALID_SUBMISSION:
        return None
    metrics = run.metrics if isinstance(run.metrics, dict) else {}
    message = run.message or ""
    if isinstance(metrics.get("spec_errors"), list) and metrics["spec_errors"]:
        return _invalid(metrics["spec_errors"])
    if isinstance(metrics.get("refusal"), str):
        return _refused(metrics["refusal"])
    if message.startswith(INVALID_PREFIX):
        return _invalid(_parsed_errors(message.removeprefix(INVALID_PREFIX)))
    if message.startswith(REFUSED_PREFIX):
        return _refused(message.removeprefix(REFUSED_PREFIX))
    return None
