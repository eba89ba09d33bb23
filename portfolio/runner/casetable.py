"""A grader's case table (standard library only): public cases, shown with what they expect, and
hidden ones, of which a learner sees the verdict and little else. The KV and tiny transformer
graders' `cases` modules hand out their tables through this, as fresh copies: a caller that
changes a case changes no other caller's."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

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
