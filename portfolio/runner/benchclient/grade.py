"""Compare what the learner's client reported with the reference server's record (trusted code,
standard library only; runs in the runner process after the sandboxed step has ended).

The truth of a case is the server's record: each measured request's arrival, the moment each
stream event carrying tokens was written, the end, and the tokens generated. It is turned into
the harness's request records (bench/metrics.py) and summarised by the harness's own
`compute_level`, so the figures a learner is held to are the ones our own benchmark reports.

Clock. Every time the client reports is time.perf_counter(), the clock the server stamps with,
so each received moment is compared with the moment the server wrote it: a first token received
before the server sent it (the response headers taken for a token) is caught exactly. A
request's true latencies run from the client's own sent_s to the server's writes.

Tolerance. A client sees each moment a little after the server: the request travels over
loopback, every event travels back, and the client's own threads wait for a busy kernel. The
grader measures loopback round trips of the case's own server just before the client runs
(`rtt_s`), and the server measures how late its own timer wakes while the case runs
(`loop_lag_ms`); a received moment may come up to max(ALLOWANCE_FLOOR_S, RTT_FACTOR x the round
trips' 90th percentile, LAG_FACTOR x the timer's 99th percentile) after the server wrote it, and a request may reach the server up to SEND_MAX_S after
its sent_s. LATE_FRACTION of a case's requests (at least one) may be later than that, for a
client thread stalled by the machine; a measuring mistake shows in most requests. Counts must
match exactly.

The summary is judged on its computation alone: the harness's metric code is run on the
client's own records (already held to the server's) and each summary figure must agree with it
within the harness's tolerance for a recomputed claim (metrics.DEFAULT_REL_TOL, metrics.ABS_TOL).
So a summary is never failed for timing noise, only for being computed wrongly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from portfolio.runner import casetable, protocol
from portfolio.runner.bench import metrics, stats
from portfolio.runner.benchclient import cases as case_table

ALLOWANCE_FLOOR_S = 0.050
RTT_FACTOR = 4.0
LAG_FACTOR = 3.0
# The client's clock is the server's (time.perf_counter() and time.monotonic_ns() read the same
# CLOCK_MONOTONIC in one sandbox), so a request reaches the server after it was sent and a token
# is received after it was written. CLOCK_EPS_S absorbs the order of the two clock reads; a
# request may take up to SEND_MAX_S between the client's stamp and its arrival (connection set-up
# on a busy machine), which also bounds how far a sent_s can be moved.
CLOCK_EPS_S = 0.0005
SEND_MAX_S = 0.1
# The share of a case's requests that may be seen later than the band (at least one): a stalled
# client thread on a loaded machine, not a measuring mistake, which shows in most requests.
LATE_FRACTION = 0.2
SUMMARY_STATS = ("mean", "p50", "p95", "p99")
LATENCIES = ("ttft_ms", "tpot_ms", "itl_ms", "e2e_ms")
SHOWN_FAILURES = 4

_CALL_FAILURES = {
    "error": "run() raised an exception",
    "timeout": "too slow",
    "crash": "crashed",
    "missing": "function not defined",
    "no_import": "module could not be imported",
    "wrong_type": "run() returned something that is not JSON",
    "too_large": "result too large",
}


def allowance_s(rtt_s: Sequence[float], loop_lag_ms: Sequence[float] = ()) -> float:
    """The band for a received time: the floor, RTT_FACTOR x the 90th percentile loopback round
    trip, or LAG_FACTOR x the 99th percentile of how late the server's own timer woke during the
    case (a machine busy enough to delay the server's thread delays the client's too)."""
    band = ALLOWANCE_FLOOR_S
    if rtt_s:
        band = max(band, RTT_FACTOR * stats.percentile(list(rtt_s), 90))
    if loop_lag_ms:
        band = max(band, LAG_FACTOR * stats.percentile(list(loop_lag_ms), 99) / 1000)
    return band


class Problems:
    """The figures of one case that are off, each with its category; the first say why."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, category: str, message: str) -> None:
        self.items.append((category, message))

    @property
    def categories(self) -> list[str]:
        seen: list[str] = []
        for category, _ in self.items:
            if category not in seen:
                seen.append(category)
        return seen


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def truth_records(
    record: Mapping[str, Any], warmups: int, sent: Mapping[str, float] | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the server's measured requests, the harness records made from them): the first `warmups`
    requests the server accepted are the warm-ups. A request starts when the client sent it
    (`sent`, by id, on the shared monotonic clock) or, without that, when it arrived; its first
    token, its events and its end are the moments the server wrote them."""
    measured = list(record["requests"])[warmups:]
    out = []
    for entry in measured:
        start = (sent or {}).get(entry["id"], entry["arrival_ns"] / 1e9)
        ok = entry["status"] == "ok" and entry["end_ns"] is not None
        chunks = entry["chunk_ns"]
        first = chunks[0] / 1e9 if chunks else (entry["end_ns"] / 1e9 if ok else None)
        out.append(
            {
                "start_s": start,
                "ttft_s": None if not ok or first is None else first - start,
                "itl_s": [(b - a) / 1e9 for a, b in zip(chunks, chunks[1:], strict=False)] if ok else [],
                "latency_s": entry["end_ns"] / 1e9 - start if ok else None,
                "prompt_tokens": entry["prompt_tokens"],
                "output_tokens": len(entry["token_ns"]) if ok else 0,
                "error": None if ok else f"request {entry['status']}",
            }
        )
    return measured, out


def check_case(
    workload: Mapping[str, Any], record: Mapping[str, Any], rtt_s: Sequence[float], result: Any
) -> tuple[Problems, dict[str, Any]]:
    """Every figure the client reported for one case against the server's truth."""
    problems = Problems()
    band = allowance_s(rtt_s, record.get("loop_lag_ms") or ())
    plan = list(workload["requests"])
    warm = len(workload["warmup"])
    stream = bool(workload["stream"])
    info: dict[str, Any] = {"allowance_ms": round(band * 1000, 2)}
    accepted = record["requests"]
    if record.get("refused"):
        problems.add(
            "workload", f"the server refused {len(record['refused'])} request(s): {record['refused'][0]['reason']}"
        )
    if len(accepted) != warm + len(plan):
        problems.add(
            "warmup" if len(accepted) < warm + len(plan) or not warm else "workload",
            f"the server received {len(accepted)} requests; the workload has {warm} warm-up and {len(plan)} measured",
        )
        return problems, info
    measured = accepted[warm:]
    ids = {entry["id"]: i for i, entry in enumerate(measured)}
    warm_ids = {entry["id"] for entry in accepted[:warm]}
    if not isinstance(result, Mapping) or not isinstance(result.get("requests"), list):
        problems.add("workload", "run() must return a dict with a list 'requests' and a dict 'summary'")
        return problems, info
    reported = result["requests"]
    if any(isinstance(r, Mapping) and r.get("id") in warm_ids for r in reported):
        problems.add("warmup", "the records include warm-up requests")
    if len(reported) != len(plan):
        problems.add(
            "warmup" if len(reported) > len(plan) else "workload",
            f"{len(reported)} records for {len(plan)} measured requests",
        )
    seen: set[int] = set()
    sent: dict[str, float] = {}
    late: dict[int, list[tuple[str, str]]] = {}
    for r in reported:
        if not isinstance(r, Mapping):
            problems.add("workload", "every record must be a dict")
            break
        _check_record(r, plan, measured, ids, seen, stream, band, problems, sent, late)
    _check_schedule(workload, plan, reported, band, late)
    # A few requests seen late are a busy machine stalling the client; many are a measuring
    # mistake (or a closed loop). Received before the server sent it is never allowed.
    allowed = late_allowed(len(plan))
    info["late_requests"] = len(late)
    if len(late) > allowed:
        for index in sorted(late):
            for category, message in late[index]:
                problems.add(category, message)
    if problems.items:
        return problems, info
    _, truth = truth_records(record, warm, sent)
    info["true_summary"] = _summary_view(metrics.compute_level(truth, _duration(truth), workload.get("slo") or None))
    summary = result.get("summary")
    if not isinstance(summary, Mapping):
        problems.add("throughput", "the result has no 'summary' dict")
    else:
        own = client_records(reported, stream)
        level = metrics.compute_level(own, _duration(own), workload.get("slo") or None)
        _check_summary(summary, level, workload, stream, problems)
    return problems, info


def late_allowed(requests: int) -> int:
    """How many requests of a case may be seen later than the band: LATE_FRACTION of them, at least one."""
    return max(1, int(requests * LATE_FRACTION))


def client_records(reported: Sequence[Mapping[str, Any]], stream: bool) -> list[dict[str, Any]]:
    """The client's own records (already held to the server's) as the harness's records, so its
    summary can be recomputed with the harness's code from exactly the times it reported."""
    out = []
    for r in sorted(reported, key=lambda item: item["index"]):
        sent, end = float(r["sent_s"]), float(r["end_s"])
        chunks = [float(t) for t in r.get("chunk_times_s") or []] if stream else []
        first = float(r["first_token_s"]) if stream else end
        out.append(
            {
                "start_s": sent,
                "ttft_s": first - sent,
                "itl_s": [b - a for a, b in zip(chunks, chunks[1:], strict=False)],
                "latency_s": end - sent,
                "prompt_tokens": None,
                "output_tokens": int(r["output_tokens"]),
                "error": None,
            }
        )
    return out


def _duration(truth: Sequence[Mapping[str, Any]]) -> float:
    ends = [r["start_s"] + r["latency_s"] for r in truth if r["latency_s"] is not None]
    return (max(ends) - min(r["start_s"] for r in truth)) if ends else 0.0


def _late(label: str, index: int, lag: float, limit: float) -> str:
    if lag < -CLOCK_EPS_S:
        return (
            f"request {index}: your {label} is {-1000 * lag:.1f} ms before the server sent it "
            "(stamp it when it is received)"
        )
    return (
        f"request {index}: your {label} is {1000 * lag:.1f} ms after the server sent it (allowed {1000 * limit:.1f} ms)"
    )


def _check_record(
    r: Mapping[str, Any],
    plan: Sequence[Mapping[str, Any]],
    measured: Sequence[Mapping[str, Any]],
    ids: Mapping[str, int],
    seen: set[int],
    stream: bool,
    band: float,
    problems: Problems,
    sent_by_id: dict[str, float],
    late: dict[int, list[tuple[str, str]]],
) -> None:
    index, rid = r.get("index"), r.get("id")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(plan) or index in seen:
        problems.add("workload", f"a record's index {index!r} is not a new measured request's position")
        return
    seen.add(index)
    if rid not in ids:
        problems.add("workload", f"request {index}: id {rid!r} is not a measured request the server answered")
        return
    entry = measured[ids[rid]]
    want = plan[index]
    if (entry["prompt_tokens"], entry["max_tokens"]) != (want["prompt_tokens"], want["output_tokens"]):
        problems.add(
            "workload",
            f"request {index} was sent with {entry['prompt_tokens']} prompt tokens and max_tokens "
            f"{entry['max_tokens']}; the workload says {want['prompt_tokens']} and {want['output_tokens']}",
        )
    if entry["stream"] != stream:
        problems.add("workload", f"request {index} was sent with stream={entry['stream']}")
    if entry["status"] != "ok":
        if not r.get("error"):
            problems.add("workload", f"request {index} never completed on the server but has no error")
        return
    if r.get("error"):
        problems.add(
            "workload", f"request {index} completed on the server but the record says: {str(r['error'])[:100]}"
        )
        return
    if r.get("output_tokens") != len(entry["token_ns"]):
        problems.add(
            "tokens",
            f"request {index}: {r.get('output_tokens')!r} output tokens, the server generated {len(entry['token_ns'])}",
        )
    sent, end, first = _num(r.get("sent_s")), _num(r.get("end_s")), _num(r.get("first_token_s"))
    if sent is None or end is None:
        problems.add("clock", f"request {index}: sent_s and end_s must be numbers (time.perf_counter())")
        return
    arrival = entry["arrival_ns"] / 1e9

    def lag_check(category: str, message: str, lag: float, limit: float) -> None:
        if lag < -CLOCK_EPS_S:
            problems.add(category, message)
        elif lag > limit:
            late.setdefault(index, []).append((category, message))

    send_message = (
        f"request {index} reached the server {1000 * (arrival - sent):.1f} ms after your sent_s "
        f"(expected 0 to {1000 * SEND_MAX_S:g} ms)"
    )
    lag_check("clock", send_message, arrival - sent, SEND_MAX_S)
    sent_by_id[rid] = sent
    end_lag = end - entry["end_ns"] / 1e9
    lag_check("e2e", _late("end_s", index, end_lag, band), end_lag, band)
    if stream:
        chunks = r.get("chunk_times_s")
        if first is None:
            problems.add("ttft", f"request {index}: first_token_s must be a number for a streamed request")
        else:
            lag = first - entry["chunk_ns"][0] / 1e9
            lag_check("ttft", _late("first_token_s", index, lag, band), lag, band)
        if isinstance(chunks, list) and not all(_num(t) is not None for t in chunks):
            problems.add("itl", f"request {index}: chunk_times_s must be numbers")
        elif not isinstance(chunks, list) or len(chunks) != len(entry["chunk_ns"]):
            count = len(chunks) if isinstance(chunks, list) else None
            problems.add(
                "itl",
                f"request {index}: {count} event times, the server sent {len(entry['chunk_ns'])} events with text",
            )


def _check_schedule(
    workload: Mapping[str, Any],
    plan: Sequence[Mapping[str, Any]],
    reported: Sequence[Mapping[str, Any]],
    band: float,
    late: dict[int, list[tuple[str, str]]],
) -> None:
    """An open loop: each request must be sent at its scheduled offset from the first (its sent_s
    is already held to its arrival at the server)."""
    if workload["arrival"]["kind"] == "closed":
        return
    by_index = {r["index"]: float(r["sent_s"]) for r in reported}
    if 0 not in by_index:
        return
    t0 = by_index[0] - plan[0]["arrival_s"]
    for index, at in sorted(by_index.items()):
        lag = at - (t0 + plan[index]["arrival_s"])
        if abs(lag) > 2 * band + 0.002:
            late.setdefault(index, []).append(
                ("open_loop", f"request {index} was sent {1000 * lag:+.1f} ms off its schedule")
            )


def _check_summary(
    summary: Mapping[str, Any],
    level: Mapping[str, Any],
    workload: Mapping[str, Any],
    stream: bool,
    problems: Problems,
) -> None:
    """The client's summary against the harness's metric code run on the client's own records:
    only the computation is judged here (the records were held to the server above), so the
    band is the harness's own for a recomputed claim (metrics.DEFAULT_REL_TOL and ABS_TOL)."""
    names = LATENCIES if stream else ("e2e_ms",)
    for name in names:
        true_stats = level[name]
        if true_stats["n"] == 0:
            continue
        claimed = summary.get(name)
        if not isinstance(claimed, Mapping):
            problems.add(_category(name), f"summary.{name} must be a dict with {', '.join(SUMMARY_STATS)}")
            continue
        off = [
            stat
            for stat in SUMMARY_STATS
            if not _recomputed(
                claimed.get(stat), true_stats["median" if stat == "p50" else stat], metrics.ABS_TOL["ms"]
            )
        ]
        # A wrong mean is a wrong formula for the metric (TPOT with the first token); a right mean
        # with wrong percentiles is a wrong percentile.
        category = _category(name) if "mean" in off else "percentiles"
        for stat in off:
            true = true_stats["median" if stat == "p50" else stat]
            problems.add(
                category, f"summary {name} {stat}: {_shown(claimed.get(stat))}, from your own records {true:.2f}"
            )
    if summary.get("completed") != level["completed"]:
        problems.add("warmup", f"summary completed: {summary.get('completed')!r}, true {level['completed']}")
    for name in ("output_tokens_per_s", "requests_per_s"):
        true = level[name]
        if true is not None and not _recomputed(summary.get(name), true, metrics.ABS_TOL["per_s"]):
            problems.add("throughput", f"summary {name}: {_shown(summary.get(name))}, from your own records {true:.2f}")
    if workload.get("slo"):
        true = level["goodput_rps"]
        if true is not None and not _recomputed(summary.get("goodput_rps"), true, metrics.ABS_TOL["per_s"]):
            problems.add(
                "throughput",
                f"summary goodput_rps: {_shown(summary.get('goodput_rps'))}, from your own records {true:.2f} "
                "requests/s meeting the SLO",
            )


def _recomputed(claimed: Any, true: float, floor: float) -> bool:
    value = _num(claimed)
    return value is not None and abs(value - true) <= max(metrics.DEFAULT_REL_TOL * abs(true), floor)


def _category(name: str) -> str:
    return {"ttft_ms": "ttft", "tpot_ms": "tpot", "itl_ms": "itl", "e2e_ms": "e2e"}[name]


def _shown(value: Any) -> str:
    number = _num(value)
    return f"{number:.2f}" if number is not None else repr(value)


def _summary_view(level: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in LATENCIES:
        s = level[name]
        out[name] = None if s["n"] == 0 else {k: round(s["median" if k == "p50" else k], 3) for k in SUMMARY_STATS}
    for name in ("completed", "output_tokens_per_s", "requests_per_s", "goodput_rps"):
        value = level[name]
        out[name] = round(value, 3) if isinstance(value, float) else value
    return out


def compare(items: Sequence[Mapping[str, Any]], outputs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The tests, score and verdict: one test per case (casetable.graded)."""
    tests = []
    for item, output in zip(items, outputs, strict=True):
        tests.append(_test(item, output))
    return casetable.graded(
        tests,
        allowance_floor_ms=ALLOWANCE_FLOOR_S * 1000,
        rtt_factor=RTT_FACTOR,
        lag_factor=LAG_FACTOR,
        late_fraction=LATE_FRACTION,
        summary_rel_tol=metrics.DEFAULT_REL_TOL,
    )


def _test(item: Mapping[str, Any], output: Mapping[str, Any]) -> dict[str, Any]:
    hidden = item["visibility"] == case_table.HIDDEN
    details: dict[str, Any] = {"category": item["category"]}
    if not hidden:
        details["why"] = item["why"]
        tail = str(output["client"].get("output_tail") or "")
        if tail:
            details["output_tail"] = tail[-500:]
    client = output["client"]
    visibility = "hidden" if hidden else "visible"
    if client.get("status") != "ok":
        reason = _CALL_FAILURES.get(str(client.get("status")), "no usable result")
        text = str(client.get("message") or "")
        details["hint"] = "run(base_url, workload) must return its result within the case's time and limits."
        return protocol.make_test(
            item["name"],
            "error",
            visibility=visibility,
            message=f"{reason}: {text}" if text else reason,
            details=details,
        )
    problems, info = check_case(case_table.workload(item), output["record"], output["rtt_s"], client.get("result"))  # type: ignore[arg-type]
    details["allowance_ms"] = info["allowance_ms"]
    if not problems.items:
        message = (
            f"every request within {info['allowance_ms']:g} ms of the server's record "
            f"({info['late_requests']} later, {late_allowed(len(case_table.workload(item)['requests']))} allowed); "
            "the summary as the harness computes it from your records"
        )
        return protocol.make_test(item["name"], "passed", visibility=visibility, message=message, details=details)
    categories = problems.categories
    details["failed_categories"] = categories
    details["hint"] = " ".join(case_table.CATEGORY_HINTS[c] for c in categories[:2])
    if hidden:
        message = f"{len(problems.items)} figure(s) off the server's record ({', '.join(categories)})"
    else:
        shown = [text for _, text in problems.items[:SHOWN_FAILURES]]
        more = len(problems.items) - len(shown)
        message = "; ".join(shown) + (f"; and {more} more" if more > 0 else "")
        details["true_summary"] = info.get("true_summary")
    return protocol.make_test(item["name"], "failed", visibility=visibility, message=message, details=details)
