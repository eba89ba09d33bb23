"""Gate requests and verified levels on pages of other apps: `{% load gates %}`.

The layer page (roadmap), the nav and the self-rating card call these, so that `roadmap/` never
imports `assessments`. Each tag is one query at most, none for anonymous visitors.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.db.models import Count, Subquery, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from accounts.models import Membership
from assessments.models import MARKS, GateRequest, GateStatus, Verification
from roadmap.models import EvaluationGate, Layer

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


def _user(context: template.Context) -> Any:
    user = context.get("user")
    return user if user is not None and user.is_authenticated else None


@register.simple_tag(takes_context=True)
def gate_request_for(context: template.Context, gate: EvaluationGate) -> GateRequest | None:
    """`{% gate_request_for gate as live %}`: the learner's live (not withdrawn) request for the gate."""
    user = _user(context)
    return GateRequest.objects.of(user).live().filter(gate=gate).first() if user else None


@register.simple_tag(takes_context=True)
def verification_of(context: template.Context, layer: Layer) -> Verification | None:
    """`{% verification_of layer as verified %}`: the learner's approval of the layer's gate, if any."""
    user = _user(context)
    return GateRequest.objects.of(user).filter(gate__layer=layer).verifications().get(layer.pk) if user else None


@register.simple_tag(takes_context=True)
def review_nav_link(context: template.Context) -> SafeString:
    """The nav's "Reviews" link, with the number awaiting a decision, for people who review or lead
    a team. One query: the user's first reviewing membership, carrying that number."""
    user = _user(context)
    if user is None:
        return SafeString("")
    waiting = (
        GateRequest.objects.decidable_by(user)
        .awaiting_review()
        .order_by()
        .annotate(group=Value(1))
        .values("group")
        .annotate(n=Count("pk"))
        .values("n")
    )
    count = (
        Membership.objects.filter(user=user)
        .reviewing()
        .annotate(waiting=Coalesce(Subquery(waiting[:1]), 0))
        .order_by("pk")
        .values_list("waiting", flat=True)
        .first()
    )
    if count is None:
        return SafeString("")
    request = context.get("request")
    current = SafeString(
        ' aria-current="page"' if request and request.path.startswith(reverse("gates:review-list")) else ""
    )
    badge = format_html(' <span class="badge-count" title="Awaiting a decision">{}</span>', count) if count else ""
    return format_html('<li><a href="{}"{}>Reviews{}</a></li>', reverse("gates:review-list"), current, badge)


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
