"""Statistics that say how sure a number is: sample counts, bootstrap intervals, the SLA verdict.

Standard library only, and deterministic: the bootstrap draws from a fixed seed with
``random.Random.random`` (the same stream on Python 3.11 and 3.12), so the page recomputes the
same interval from the stored timings that the runner reported.

* **Minimum sample count.** The p-th percentile is only a percentile when at least
  ``100 / (100 - p)`` values are behind it (p99: 100, p95: 20, p90: 10, p50: 2): with fewer, no
  value lies above it and it is an interpolation towards the maximum. Below that count a
  percentile is reported as the maximum, with the count ("max of 37").
* **Bootstrap interval.** Percentile bootstrap over requests: ``BOOTSTRAP_RESAMPLES`` resamples
  of the per-request values with replacement, the statistic of each, and the 2.5th and 97.5th
  percentiles of those (a 95 % interval). Per-request metrics only (TTFT, TPOT, E2E): ITL gaps of
  one request are correlated, and resampling pooled gaps would claim precision it does not have.
* **SLA verdict and early stopping** (`sla_verdict`, `sla_already_broken`): see their docstrings.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 20260
CONFIDENCE = 0.95
INTERVAL_METHOD = (
    f"95 % percentile bootstrap over requests: {BOOTSTRAP_RESAMPLES} resamples with replacement "
    f"(fixed seed), the 2.5th and 97.5th percentiles of the resampled percentile"
)
PERCENTILES = (50, 90, 95, 99)


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100) of values, numpy's default linear method exactly."""
    if not values:
        raise ValueError("percentile of an empty sequence")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be in 0..100, got {p}")
    xs = sorted(values)
    n = len(xs)
    virtual = (n - 1) * (p / 100.0)
    lo = math.floor(virtual)
    hi = min(lo + 1, n - 1)
    lo = min(lo, n - 1)
    gamma = virtual - lo
    a, b = xs[lo], xs[hi]
    diff = b - a
    # numpy's _lerp computes from the nearer end to keep the result inside [a, b] in floating
    # point; doing the same makes the results equal bit for bit.
    if gamma >= 0.5:
        return b - diff * (1 - gamma)
    return a + diff * gamma


def min_samples(p: float) -> int:
    """The fewest values for which the p-th percentile has at least one value above it."""
    return 2 if p <= 50 else math.ceil(100 / (100 - p) - 1e-9)


def bootstrap_percentiles(values: Sequence[float], ps: Sequence[float]) -> dict[float, tuple[float, float]]:
    """A 95 % percentile-bootstrap interval for each percentile in ps.

    Resampling n values with replacement and taking the percentile reads two adjacent order
    statistics of the resample, positions k and k + 1. Their positions in the sorted original are
    floor(n U) for the k-th and (k+1)-th smallest of n uniforms, and those are drawn directly:
    U_(k) ~ Beta(k, n + 1 - k), U_(k+1) = U_(k) + (1 - U_(k)) Beta(1, n - k). That is the same
    distribution as sorting a full resample, in constant time per resample, so a page can
    recompute intervals for thousands of requests.
    """
    n = len(values)
    if n < 2:
        return {}
    xs = sorted(values)
    rng = random.Random(BOOTSTRAP_SEED + n)
    low, high = 100 * (1 - CONFIDENCE) / 2, 100 * (1 + CONFIDENCE) / 2
    out = {}
    for p in ps:
        virtual = (n - 1) * (p / 100.0)
        k = math.floor(virtual) + 1
        gamma = virtual - (k - 1)
        draws = []
        for _ in range(BOOTSTRAP_RESAMPLES):
            u = rng.betavariate(k, n + 1 - k)
            a = xs[min(int(u * n), n - 1)]
            if k < n and gamma > 0:
                u2 = u + (1 - u) * (1 - rng.random() ** (1 / (n - k)))
                b = xs[min(int(u2 * n), n - 1)]
                a = b - (b - a) * (1 - gamma) if gamma >= 0.5 else a + (b - a) * gamma
            draws.append(a)
        out[p] = (percentile(draws, low), percentile(draws, high))
    return out


def reported(values: Sequence[float], interval: bool = True) -> dict[str, dict[str, Any]]:
    """What the page shows for each percentile: value, n, minimum n, whether it is the max, interval."""
    n = len(values)
    if n == 0:
        return {}
    intervals = bootstrap_percentiles(values, PERCENTILES) if interval else {}
    out = {}
    for p in PERCENTILES:
        need = min_samples(p)
        enough = n >= need
        ci = intervals.get(p)
        out[f"p{p}"] = {
            "value": percentile(values, p) if enough else max(values),
            "n": n,
            "min_n": need,
            "is_max": not enough,
            "ci": list(ci) if ci and enough else None,
        }
    return out


# --- the SLA -----------------------------------------------------------------------------------


def sla_verdict(level: dict[str, Any], sla: dict[str, Any]) -> dict[str, Any]:
    """Does a level meet the SLA? {"meets": bool, "reasons": [...], "values": {...}}.

    Each limit is checked against the level's reported percentile (``sla["percentile"]`` of TTFT
    and TPOT): the percentile itself when enough requests were measured, else the maximum, which
    can only be stricter. A level with failed requests, or stopped early, does not meet it.
    """
    p = f"p{sla['percentile']}"
    reasons, values = [], {}
    for key in ("ttft_ms", "tpot_ms"):
        if key not in sla:
            continue
        shown = ((level.get(key) or {}).get("reported") or {}).get(p)
        value = None if shown is None else shown["value"]
        values[key] = value
        if value is None:
            reasons.append(f"no {key[:4].upper()} measured")
        elif value > sla[key]:
            what = f"max of {shown['n']}" if shown["is_max"] else p
            reasons.append(f"{key[:4].upper()} {what} {value:.1f} ms > {sla[key]:g} ms")
    if level.get("failed"):
        reasons.append(f"{level['failed']} requests failed")
    if level.get("stopped_early"):
        reasons.append("stopped early: " + str(level["stopped_early"]))
    return {"meets": not reasons, "reasons": reasons, "values": values}


def breaking_count(n: int, p: float) -> int:
    """How many of n values above a limit make the p-th percentile exceed it, whatever the rest are.

    With the values sorted, the percentile interpolates between positions lo = floor((n-1)p/100)
    and lo + 1; once position lo holds a value over the limit (k >= n - lo values over it), so does
    the percentile. Below the minimum sample count the maximum is reported, and one value suffices.
    """
    if n < min_samples(p):
        return 1
    return n - math.floor((n - 1) * p / 100.0)


def sla_already_broken(finished: Sequence[dict[str, float | None]], n: int, sla: dict[str, Any]) -> str | None:
    """The early-stopping rule of an SLA search: a reason to stop the level now, or None.

    ``finished`` holds the measured requests completed so far ({"ttft_ms", "tpot_ms"}) out of n.
    Requests still to come can only add values, never remove one above the limit, so once
    ``breaking_count(n, p)`` finished requests exceed a limit the level cannot meet the SLA and
    running the rest would change nothing but the clock.
    """
    p = sla["percentile"]
    need = breaking_count(n, p)
    for key in ("ttft_ms", "tpot_ms"):
        if key not in sla:
            continue
        over = sum(1 for r in finished if r.get(key) is not None and r[key] > sla[key])  # type: ignore[operator]
        if over >= need:
            return f"{over} of {n} requests already over the {key[:4].upper()} limit of {sla[key]:g} ms (p{p} needs fewer than {need})"
    return None


def next_search_rate(points: Sequence[tuple[float, bool]]) -> float | None:
    """The next rate of the bisection: midway between the highest meeting rate below the lowest
    failing one and that failing rate; None when nothing brackets the answer."""
    failing = [r for r, ok in points if not ok]
    if not failing:
        return None
    lowest_fail = min(failing)
    passing = [r for r, ok in points if ok and r < lowest_fail]
    if not passing:
        return None
    return (max(passing) + lowest_fail) / 2


def highest_meeting(points: Sequence[tuple[float, bool]]) -> float | None:
    """The highest rate that met the SLA below every failing one (a lucky pass above a failure does not count)."""
    failing = [r for r, ok in points if not ok]
    ceiling = min(failing) if failing else math.inf
    passing = [r for r, ok in points if ok and r < ceiling]
    return max(passing) if passing else None


SEARCH_RULE = (
    "Each rate's verdict checks the SLA's percentile of TTFT and TPOT (the maximum below the minimum "
    "sample count; every trial must pass). The sweep brackets the answer between the highest passing "
    "rate below every failing one and the lowest failing rate; each search step runs the midpoint. "
    "Early stopping: a sweep or search run stops as soon as enough finished requests exceed a limit "
    "that the percentile cannot meet it whatever the rest do (n - floor((n - 1) p / 100) of n), and "
    "that rate fails. The answer is the highest rate that passed below every failure."
)


def rate_of(level: dict[str, Any]) -> float | None:
    """The x of a sweep point: the offered rate, or the rate sustained where none was offered."""
    return level.get("rate") if level.get("rate") is not None else level.get("requests_per_s")


def sweep_points(levels: Sequence[dict[str, Any]], sla: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One point per rate of a sweep (its trials together), in rate order, with its SLA verdict."""
    groups: dict[tuple[str, Any], list[dict[str, Any]]] = {}
    for level in levels:
        if level.get("role") in ("sync", "saturation", "sweep", "search"):
            groups.setdefault((level["role"], level.get("rate")), []).append(level)
    points = []
    for (role, rate), trials in groups.items():
        sustained = [t.get("requests_per_s") or 0.0 for t in trials]
        good = [t["goodput_rps"] for t in trials if t.get("goodput_rps") is not None]
        verdicts = [sla_verdict(t, sla) for t in trials] if sla else []
        points.append(
            {
                "role": role,
                "rate": rate,
                "x": rate if rate is not None else math.fsum(sustained) / len(sustained),
                "sustained_rps": math.fsum(sustained) / len(sustained),
                "goodput_rps": math.fsum(good) / len(good) if good else None,
                "trials": len(trials),
                "meets": all(v["meets"] for v in verdicts) if sla else None,
                "reasons": [r for v in verdicts for r in v["reasons"]],
                "level": trials[0],
            }
        )
    return sorted(points, key=lambda p: p["x"])


def rate_points(levels: Sequence[dict[str, Any]], sla: dict[str, Any]) -> list[tuple[float, bool]]:
    return [(p["x"], bool(p["meets"])) for p in sweep_points(levels, sla)]


def sweep_summary(levels: Sequence[dict[str, Any]], sla: dict[str, Any] | None) -> dict[str, Any]:
    """The sweep as stored beside the metrics: points (without their levels) and the SLA answer."""
    points = sweep_points(levels, sla)
    answer = highest_meeting([(p["x"], bool(p["meets"])) for p in points]) if sla else None
    return {
        "sla": sla,
        "points": [{k: v for k, v in p.items() if k != "level"} for p in points],
        "max_rate_meeting_sla": answer,
        "rule": SEARCH_RULE if sla else None,
    }


# --- trials ------------------------------------------------------------------------------------

TRIAL_FIGURES = (
    ("TTFT p50", "ttft_ms", "p50"),
    ("TTFT p99", "ttft_ms", "p99"),
    ("TPOT p50", "tpot_ms", "p50"),
    ("E2E p50", "e2e_ms", "p50"),
    ("Output tok/s", "output_tokens_per_s", None),
    ("Requests/s", "requests_per_s", None),
)


def trial_spread(trials: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per figure: each trial's value, their mean, min, max and (max - min) / mean."""
    rows = []
    for label, key, stat in TRIAL_FIGURES:
        values = [t.get(key) if stat is None else (t.get(key) or {}).get(stat) for t in trials]
        known = [v for v in values if v is not None]
        if not known:
            continue
        mean = math.fsum(known) / len(known)
        rows.append(
            {
                "label": label,
                "values": values,
                "mean": mean,
                "min": min(known),
                "max": max(known),
                "spread": (max(known) - min(known)) / mean if mean else None,
            }
        )
    return rows


def intervals_overlap(a: Sequence[float] | None, b: Sequence[float] | None) -> bool | None:
    if not a or not b:
        return None
    return a[0] <= b[1] and b[0] <= a[1]
