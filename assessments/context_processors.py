"""What the nav shows on every page: `review_link`, the way into a reviewer's inbox (settings.TEMPLATES)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, partial
from typing import Any

from django.db.models import Count, Subquery, Value
from django.db.models.functions import Coalesce
from django.urls import reverse

from accounts.http import Request
from accounts.models import Membership
from assessments.models import GateRequest


@dataclass(frozen=True)
class ReviewLink:
    waiting: int  # gate requests awaiting the user's decision
    current: bool  # the page is one of the review pages


def reviews(request: Request) -> dict[str, Any]:
    """A callable, which templates call when they first read it: a response without the nav, such as
    an htmx fragment, runs no query, and one that draws the nav runs one."""
    return {"review_link": cache(partial(_review_link, request))}


def _review_link(request: Request) -> ReviewLink | None:
    """For people who review or lead a team, the number awaiting a decision; None for everyone else.
    One query: the user's first reviewing membership, carrying that number."""
    user = request.user
    if not user.is_authenticated:
        return None
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
        return None
    return ReviewLink(waiting=count, current=request.path.startswith(reverse("gates:review-list")))
