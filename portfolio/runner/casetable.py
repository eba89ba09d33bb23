"""A grader's case table (standard library only): public cases, shown with what they expect, and
hidden ones, of which a learner sees the verdict and little else. The KV and tiny transformer
graders' `cases` modules hand out their tables through this, as fresh copies: a caller that
changes a case changes no other caller's."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from portfolio.runner import protocol

VISIBLE = "visible"
HIDDEN = "hidden"

CaseT = TypeVar("CaseT", bound=Mapping[str, Any])


def case_sets(
    cases: Sequence[CaseT],
) -> tuple[Callable[[], list[CaseT]], Callable[[], list[CaseT]], Callable[[], list[CaseT]]]:
    """(all_cases, public_cases, hidden_cases) of a table, each returning copies in table order."""

    def chosen(visibility: str | None) -> Callable[[], list[CaseT]]:
        def copies() -> list[CaseT]:
            return [cast(CaseT, dict(case)) for case in cases if visibility in (None, case["visibility"])]

        return copies

    return chosen(None), chosen(VISIBLE), chosen(HIDDEN)


def graded(tests: list[dict[str, Any]], *, note: str = "", **metrics: Any) -> dict[str, Any]:
    """The result of a case grader from its tests: every case must pass; the message counts public
    and hidden passes (plus `note`); metrics start with cases, passed and errors, then `metrics`."""
    passed = sum(test["status"] == "passed" for test in tests)
    shown = [test for test in tests if test["visibility"] == VISIBLE]
    hidden = [test for test in tests if test["visibility"] == HIDDEN]
    message = (
        f"{passed} of {len(tests)} cases passed "
        f"(public {sum(t['status'] == 'passed' for t in shown)}/{len(shown)}, "
        f"hidden {sum(t['status'] == 'passed' for t in hidden)}/{len(hidden)})"
    )
    return {
        "tests": tests,
        "score": round(passed / len(tests), 6) if tests else 0.0,
        "max_score": 1.0,
        "verdict": protocol.VERDICT_PASSED if tests and passed == len(tests) else protocol.VERDICT_FAILED,
        "message": message + note,
        "metrics": {
            "cases": len(tests),
            "passed": passed,
            "errors": sum(test["status"] == "error" for test in tests),
            **metrics,
        },
    }
