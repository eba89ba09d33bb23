"""Turn the learner's step and the trusted checks into the result's tests (standard library only).

`compare(cases, learner_results, checks)`:

* cases            the case list (cases.Case dicts);
* learner_results  harness_learner's "results": {case name: {"status", "message", ...}};
* checks           harness_check's "checks": {case name: {"passed", "message", "measure"}}.

A case passes when the learner's probe ran (status "ok") and the check passed; "failed" when the
check did not pass or the parameter layout was wrong; "error" when the learner's code raised,
ran past its limit, or is missing. Every test carries the case's category and hint in details.
A hidden case shows its name, category, hint and verdict only: neither its inputs, nor what it
expected, nor the measured gap, nor the learner's own message (which could echo an input).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from portfolio.runner import casetable, protocol
from portfolio.runner.tinytf import cases as case_table

_CALL_FAILURES = {
    "error": "raised an exception",
    "timeout": "too slow",
    "missing": "function not defined",
    "no_import": "module could not be imported",
}


class MissingCheck(RuntimeError):
    """A case whose probe ran has no verdict from the trusted step: the grader's failure."""


def _one(item: Mapping[str, Any], learned: Mapping[str, Any] | None, check: Mapping[str, Any] | None) -> dict[str, Any]:
    hidden = item["visibility"] == case_table.HIDDEN
    details: dict[str, Any] = {"check": item["check"], "category": case_table.category(item)}
    if not hidden:
        details["config"] = item["config"]
        details["expects"] = case_table.expectation(item)
    status = str((learned or {}).get("status", "error"))
    if status == "ok":
        if check is None:
            raise MissingCheck(f"no check for case {item['name']}")
        verdict = "passed" if check.get("passed") else "failed"
        message = str(check.get("message", ""))
    elif status == "layout":
        verdict, message = "failed", "the parameters are not the published layout: " + str(learned.get("message", ""))
    else:
        verdict = "error"
        reason = _CALL_FAILURES.get(status, "no usable answer")
        text = str((learned or {}).get("message") or "")
        message = f"{reason}: {text}" if text else reason
    if verdict != "passed":
        details["hint"] = case_table.hint(item)
    if hidden:
        message = {"passed": "passed", "failed": "failed", "error": "the submission's code failed on this case"}[
            verdict
        ]
    measure = (check or {}).get("measure") if not hidden else None
    return protocol.make_test(
        item["name"],
        verdict,
        visibility="hidden" if hidden else "visible",
        observed=measure if isinstance(measure, float) else None,
        message=message,
        details=details,
    )


def compare(
    cases: Sequence[Mapping[str, Any]], learner_results: Mapping[str, Any], checks: Mapping[str, Any]
) -> dict[str, Any]:
    tests = [_one(item, learner_results.get(item["name"]), checks.get(item["name"])) for item in cases]
    failing = sorted({t["details"]["category"] for t in tests if t["status"] != "passed"})
    note = "; failing: " + ", ".join(failing) if failing else ""
    return casetable.graded(tests, note=note, failing_categories=failing)
