"""Compare the learner's answers with the measured truth and write the result's tests.

Standard library only (plus the runner's pure-Python `protocol`, for the test dict shape).

`compare(cases, observed, measured)`:

* cases     the case list (cases.Case dicts);
* observed  harness_call's "results": {case name: {"status", "value", "message", ...}};
* measured  harness_measure's "measurements": {cases.measurement_id(case): measure() dict}.

A case passes when the learner returned an int within `tolerance` of the expected value:
|observed - expected| <= tolerance * expected, in exact arithmetic. The expected value of a
kv_cache_bytes case is the measured bytes; of a max_concurrency case, kv_budget_bytes // (the
measured bytes of one sequence). A case whose call did not produce an int (exception, timeout,
crash, wrong type) is an "error" with the reason; a wrong int is "failed".

Every case carries its category (cases.CATEGORY_HINTS) and, when it does not pass, that
category's hint; a public case also its reason for being there (`why`) and what the calculator
printed while answering it (the last 500 characters, as Exercism shows).

What the learner sees of a hidden case: its name, model and function, its category, pass or
fail with the hint, and the relative error (rounded to 3 significant digits). Its inputs, its expected value, the learner's
own value and the learner's printed output stay out of the test dict, and the true value is not
kept anywhere in the result (runner README: there is no private field).

max_concurrency is optional: when the module does not define it, its cases are left out of the
tests and the score, and the message says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from portfolio.runner import protocol
from portfolio.runner.kv import cases as case_table

DEFAULT_TOLERANCE = 0.01
OUTPUT_TAIL_SHOWN = 500

_CALL_FAILURES = {
    "wrong_type": "wrong return type",
    "too_large": "unreasonably large value",
    "error": "raised an exception",
    "timeout": "too slow",
    "crash": "crashed",
    "missing": "function not defined",
    "no_import": "module could not be imported",
}


class MissingMeasurement(RuntimeError):
    """The truth for a case was not measured: the grader's failure, never the learner's."""


def expected_value(item: Mapping[str, Any], measured_bytes: int) -> int:
    if item["function"] == case_table.BYTES:
        return int(measured_bytes)
    return int(item["kv_budget_bytes"]) // int(measured_bytes)


def within(observed: int, expected: int, tolerance: float) -> bool:
    return abs(Fraction(observed) - expected) <= Fraction(str(tolerance)) * abs(expected)


def relative_error(observed: int, expected: int) -> float:
    if expected == 0:
        return 0.0 if observed == 0 else float("inf")
    return float(abs(Fraction(observed) - expected) / abs(expected))


def percent_text(value: float) -> str:
    """A relative error as a plain percentage: two decimals below 1%, one below 100%, whole
    percents (with thousands separators) above; never exponent notation."""
    pct = value * 100
    if pct == float("inf"):
        return "infinitely far"
    if pct < 1:
        return f"{pct:.2f}%"
    if pct < 100:
        return f"{pct:.1f}%"
    return f"{pct:,.0f}%"


def _round3(value: float) -> float:
    return float(f"{value:.3g}")


def _measured_bytes(item: Mapping[str, Any], measured: Mapping[str, Any]) -> int:
    key = case_table.measurement_id(item)  # type: ignore[arg-type]
    record = measured.get(key)
    if not isinstance(record, Mapping) or not isinstance(record.get("bytes"), int):
        reason = record.get("error") if isinstance(record, Mapping) else "not measured"
        raise MissingMeasurement(f"no measurement for case {item['name']} ({key}): {reason}")
    return int(record["bytes"])


def _inputs(item: Mapping[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {"function": item["function"], "model": item["model"], "seq_len": item["seq_len"]}
    if item["function"] == case_table.BYTES:
        data["batch_size"] = item["batch_size"]
    else:
        data["kv_budget_bytes"] = item["kv_budget_bytes"]
    data["dtype"] = item["dtype"]
    return data


def _one(item: Mapping[str, Any], result: Mapping[str, Any] | None, expected: int, tolerance: float) -> dict[str, Any]:
    test = _judged(item, result, expected, tolerance)
    # Every case says what it checks; one that did not pass gets the hint of that category, and a
    # public one its reason and what it printed (capped): a hidden one never its inputs or output.
    details = test["details"]
    details["category"] = item["category"]
    if test["status"] != "passed":
        details["hint"] = case_table.CATEGORY_HINTS[item["category"]]
    if item["visibility"] != case_table.HIDDEN:
        details["why"] = item["why"]
        tail = str((result or {}).get("output_tail") or "")
        if tail:
            details["output_tail"] = tail[-OUTPUT_TAIL_SHOWN:]
    return test


def _judged(
    item: Mapping[str, Any], result: Mapping[str, Any] | None, expected: int, tolerance: float
) -> dict[str, Any]:
    hidden = item["visibility"] == case_table.HIDDEN
    if hidden:
        details: dict[str, Any] = {"function": item["function"], "model": item["model"]}
    else:
        details = _inputs(item)
    status = (result or {}).get("status", "crash")
    value = (result or {}).get("value")
    if status == "ok" and isinstance(value, int) and not isinstance(value, bool):
        rel = relative_error(value, expected)
        ok = within(value, expected, tolerance)
        if hidden:
            message = ("within " if ok else "off by ") + (percent_text(tolerance) if ok else percent_text(rel))
            if ok:
                message += " of the measured value"
            return protocol.make_test(
                item["name"],
                "passed" if ok else "failed",
                visibility="hidden",
                rel_error=_round3(rel),
                message=message,
                details=details,
            )
        if ok:
            message = f"within {percent_text(tolerance)} (relative error {percent_text(rel)})"
        else:
            more = "more" if value > expected else "less"
            message = f"your answer is {percent_text(rel)} {more} than the measured value"
        return protocol.make_test(
            item["name"],
            "passed" if ok else "failed",
            visibility="visible",
            expected=expected,
            observed=value,
            rel_error=rel,
            message=message,
            details=details,
        )
    reason = _CALL_FAILURES.get(str(status), "no usable answer")
    text = str((result or {}).get("message") or "")
    message = f"{reason}: {text}" if text else reason
    return protocol.make_test(
        item["name"],
        "error",
        visibility="hidden" if hidden else "visible",
        expected=None if hidden else expected,
        observed=None,
        message=message,
        details=details,
    )


def compare(
    cases: Sequence[Mapping[str, Any]],
    observed: Mapping[str, Mapping[str, Any]],
    measured: Mapping[str, Any],
    tolerance: float = DEFAULT_TOLERANCE,
) -> dict[str, Any]:
    """The tests, score and verdict for one submission; see the module docstring.

    Returns {"tests": [...], "score": float, "max_score": 1.0, "verdict": "passed" | "failed",
    "message": str, "metrics": {...}}. Raises MissingMeasurement when a case has no truth.
    """
    tests: list[dict[str, Any]] = []
    skipped: list[str] = []
    for item in cases:
        result = observed.get(item["name"])
        if item["function"] == case_table.CONCURRENCY and (result or {}).get("status") == "missing":
            skipped.append(item["name"])
            continue
        expected = expected_value(item, _measured_bytes(item, measured))
        tests.append(_one(item, result, expected, tolerance))
    passed = sum(test["status"] == "passed" for test in tests)
    visible = [t for t in tests if t["visibility"] == "visible"]
    hidden = [t for t in tests if t["visibility"] == "hidden"]
    counted = len(tests)
    score = passed / counted if counted else 0.0
    message = (
        f"{passed} of {counted} cases passed "
        f"(public {sum(t['status'] == 'passed' for t in visible)}/{len(visible)}, "
        f"hidden {sum(t['status'] == 'passed' for t in hidden)}/{len(hidden)})"
    )
    if skipped:
        message += f"; max_concurrency is not defined, so its {len(skipped)} cases were not graded"
    return {
        "tests": tests,
        "score": round(score, 6),
        "max_score": 1.0,
        "verdict": protocol.VERDICT_PASSED if counted and passed == counted else protocol.VERDICT_FAILED,
        "message": message,
        "metrics": {
            "cases": counted,
            "passed": passed,
            "errors": sum(test["status"] == "error" for test in tests),
            "skipped": skipped,
            "tolerance": tolerance,
        },
    }
