"""Gate requests in templates of this app: `{% load gates %}`. No tag here runs a query."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from assessments import credentials
from assessments.models import MARKS, GateRequest, GateStatus

register = template.Library()

_PILLS = {
    GateStatus.DRAFT: "",
    GateStatus.SUBMITTED: "pill-info",
    GateStatus.IN_REVIEW: "pill-info",
    GateStatus.APPROVED: "pill-ok",
    GateStatus.CHANGES_REQUESTED: "pill-warn",
    GateStatus.REOPENED: "pill-warn",
    GateStatus.WITHDRAWN: "",
}


@register.filter
def readable_date(value: Any) -> str:
    """assessments.credentials.readable_date, for templates."""
    return credentials.readable_date(value)


@register.filter
def gate_pill(status: str) -> str:
    return _PILLS.get(status, "")


@register.filter
def mark_label(mark: str) -> str:
    return MARKS.get(mark, "Not marked")


@register.simple_tag
def review_url(gate_request: GateRequest) -> str:
    return reverse("gates:review-detail", args=[gate_request.pk])


@register.filter
def index(items: list[Any], position: int) -> Any:
    try:
        return items[position]
    except (IndexError, TypeError):
        return None


@register.filter
def diff_lines(diff: str) -> list[tuple[str, str]]:
    """A unified diff as (css class, line) pairs, so additions and removals can be coloured."""
    kinds = {"+": "diff-add", "-": "diff-del", "@": "diff-hunk"}
    pairs = []
    for line in diff.splitlines(keepends=True):
        kind = "diff-file" if line.startswith(("+++", "---")) else kinds.get(line[:1], "diff-same")
        pairs.append((kind, line if line.endswith("\n") else line + "\n"))
    return pairs


@register.filter
def get_level(levels: dict[int, Any], number: int) -> Any:
    return levels.get(number)
