"""Is a run valid? Compliance checks on a raw harness level, in the spirit of MLPerf's audits.

Standard library only: the harness runs them on what it recorded, the grader fails a run that
breaks one (each problem starts with the check's name), and the page can run them again on the
stored timings. A check that cannot apply to a level (an old level without a step log) is skipped.
"""

from __future__ import annotations

from typing import Any

EXACT_TOKENS = "exact output tokens"
FIRST_TOKEN = "first token from its own prefill"
NONE_DROPPED = "no request dropped"
CLOCKS_AGREE = "wall clock and device events agree"
ORDERED = "timings ordered"
CHECKS = (EXACT_TOKENS, FIRST_TOKEN, NONE_DROPPED, CLOCKS_AGREE, ORDERED)

# How far the span of the recorded steps may exceed the host's wall time of the level: the
# event clock and the host clock are mapped onto each other once, so they can drift by a little.
CLOCK_SLACK_NS = 2_000_000
CLOCK_SLACK_REL = 0.02


def level_key(level: dict[str, Any]) -> str:
    """The name a level's checks are stored under: its concurrency (as always), plus rate and trial."""
    key = str(level["concurrency"])
    if level.get("role") not in (None, "level"):
        key += f" {level['role']}"
    if level.get("rate") is not None:
        key += f" @{level['rate']:.4g}/s"
    if level.get("trial"):
        key += f" trial {level['trial']}"
    return key


def check_level(level: dict[str, Any]) -> list[str]:
    """Every problem found, each as "<check name>: <what>"; empty when the level is valid."""
    problems: list[str] = []
    steps = level.get("steps")
    prefill_ends = {}
    for s in steps or []:
        if s["kind"] == "prefill":
            for rid in s["admitted"]:
                prefill_ends[rid] = s["end_ns"]
    seen: set[Any] = set()
    for req in level["requests"]:
        rid = req.get("id")
        if rid in seen:
            problems.append(f"{NONE_DROPPED}: request {rid} recorded twice")
        seen.add(rid)
        tokens = req["token_ns"]
        if req.get("not_run"):
            if not level.get("stopped_early"):
                problems.append(f"{NONE_DROPPED}: request {rid} never ran and the level was not stopped")
            continue
        if req.get("error"):
            continue
        if not tokens:
            problems.append(f"{NONE_DROPPED}: request {rid} has neither tokens nor an error")
            continue
        if len(tokens) != req["output_tokens"]:
            problems.append(
                f"{EXACT_TOKENS}: request {rid} has {len(tokens)} token times for {req['output_tokens']} output tokens"
            )
        start = req.get("start_ns")
        admitted = req.get("admitted_ns", start)
        if start is None or admitted is None or not start <= admitted < tokens[0]:
            problems.append(f"{ORDERED}: request {rid} is not arrival <= admission < first token")
        if any(b <= a for a, b in zip(tokens, tokens[1:], strict=False)):
            problems.append(f"{ORDERED}: request {rid}: token times not strictly increasing")
        if req["end_ns"] != tokens[-1]:
            problems.append(f"{ORDERED}: request {rid}: end is not the last token's time")
        if steps is not None and prefill_ends.get(rid) != tokens[0]:
            problems.append(
                f"{FIRST_TOKEN}: request {rid}'s first token time is not the end of the prefill that admitted it"
            )
    if steps is None:
        problems += _batch_checks(level)
    else:
        problems += _step_checks(level, steps)
    return problems


def _batch_checks(level: dict[str, Any]) -> list[str]:
    """Static closed-loop levels: a batch's members share their first token; batches do not overlap."""
    problems = []
    by_id = {r["id"]: r for r in level["requests"]}
    previous_end = None
    for batch in level.get("batches", []):
        firsts = {
            by_id[i]["token_ns"][0] for i in batch["request_ids"] if by_id[i]["token_ns"] and not by_id[i].get("error")
        }
        if len(firsts) > 1:
            problems.append(f"{FIRST_TOKEN}: batch {batch['index']}'s requests have different first-token times")
        if previous_end is not None and batch["start_ns"] < previous_end:
            problems.append(f"{CLOCKS_AGREE}: batch {batch['index']} starts before the previous one ended")
        previous_end = batch["end_ns"]
    return problems


def _step_checks(level: dict[str, Any], steps: list[dict[str, Any]]) -> list[str]:
    problems = []
    previous_end = None
    for i, s in enumerate(steps):
        if s["end_ns"] < s["start_ns"]:
            problems.append(f"{CLOCKS_AGREE}: step {i} ends before it starts")
        if previous_end is not None and s["start_ns"] < previous_end:
            problems.append(f"{CLOCKS_AGREE}: step {i} starts before step {i - 1} ended")
        previous_end = s["end_ns"]
    wall = level.get("wall_ns")
    if steps and wall is not None:
        span = steps[-1]["end_ns"] - steps[0]["start_ns"]
        if span > wall * (1 + CLOCK_SLACK_REL) + CLOCK_SLACK_NS:
            problems.append(
                f"{CLOCKS_AGREE}: the steps span {span / 1e6:.1f} ms but the host measured {wall / 1e6:.1f} ms for the level"
            )
    return problems
