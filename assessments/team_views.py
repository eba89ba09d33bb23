"""The team pages that show learner data: matrix (and CSV), weakest topics, inactivity, drill-down.

Mounted under /teams/<slug>/ in the "teams" namespace beside accounts' team pages. A team is looked
up through `Team.objects.of(user)`, so someone else's team is a 404; what a member may see is a
rule of accounts/rules.py (a 403 when they lack it):

- matrix, weakest topics: every member; rows of individuals only for leads and reviewers, and for
  members when the team shares progress (otherwise members see the medians and their own row);
- CSV and drill-down: whoever may see individuals' progress (`teams.view_member_progress`);
- inactivity: leads and reviewers (`teams.review`).
"""

from __future__ import annotations

import rules
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.http import Request
from accounts.models import Membership, Team
from assessments.dashboard import build_dashboard
from assessments.downloads import csv_download
from assessments.progress import Progress, checklist_layers
from assessments.teams import build_matrix, inactive_members, matrix_csv_rows, weakest_topics
from roadmap.models import Roadmap

AGGREGATES_ONLY = "This team shares only aggregates with its members; leads and reviewers see each member's progress."
REFUSED = {
    "teams.view_member_progress": AGGREGATES_ONLY,
    "teams.review": "Only the team's leads and reviewers see who has been inactive.",
}


def _team(request: Request, slug: str, rule: str = "teams.view") -> Team:
    team = get_object_or_404(Team.objects.of(request.user), slug=slug)
    if not rules.test_rule(rule, request.user, team):
        raise PermissionDenied(REFUSED.get(rule, ""))
    return team


def _page_roadmap(request: Request) -> tuple[list[Roadmap], Roadmap | None]:
    """Every current roadmap (for the tabs) and the one in ?roadmap=, else the first; None if unknown."""
    roadmaps = list(Roadmap.objects.current().only("slug", "title", "order"))
    slug = request.GET.get("roadmap")
    chosen = next((r for r in roadmaps if r.slug == slug), None) if slug else (roadmaps[0] if roadmaps else None)
    return roadmaps, chosen


@require_GET
def team_matrix(request: Request, slug: str) -> HttpResponse:
    team = _team(request, slug)
    roadmaps, roadmap = _page_roadmap(request)
    if roadmap is None and request.GET.get("roadmap"):
        return redirect("teams:team-matrix", team.slug)
    see_all = rules.test_rule("teams.view_member_progress", request.user, team)
    matrix = None
    if roadmap is not None:
        matrix = build_matrix(team, roadmap, tracks=request.GET.get("tracks") == "1")
        matrix.only(None if see_all else [request.user.pk])
    context = {
        "team": team,
        "roadmaps": roadmaps,
        "roadmap": roadmap,
        "matrix": matrix,
        "see_all": see_all,
        "levels": range(7),
        "tab": "matrix",
        # The rows link to member pages by username; one reverse() instead of one per row (200 cost 10 ms).
        "member_prefix": reverse("teams:member-dashboard", args=[team.slug, "-"]).removesuffix("-/"),
    }
    template = "assessments/team_matrix.html#matrix" if request.htmx else "assessments/team_matrix.html"
    return render(request, template, context)


@require_GET
def team_matrix_csv(request: Request, slug: str) -> HttpResponse:
    team = _team(request, slug, "teams.view_member_progress")
    roadmaps, roadmap = _page_roadmap(request)
    if roadmap is None:
        return redirect("teams:team-matrix", team.slug)
    matrix = build_matrix(team, roadmap, tracks=True, counts=True)
    stamp = timezone.localdate().isoformat()
    return csv_download(f"{team.slug}-{roadmap.slug}-{stamp}.csv", matrix_csv_rows(matrix))


@require_GET
def team_weakest(request: Request, slug: str) -> HttpResponse:
    team = _team(request, slug)
    roadmaps, roadmap = _page_roadmap(request)
    if roadmap is None and request.GET.get("roadmap"):
        return redirect("teams:team-weakest", team.slug)
    context = {
        "team": team,
        "roadmaps": roadmaps,
        "roadmap": roadmap,
        "weak": weakest_topics(team, roadmap) if roadmap else None,
        "tab": "weakest",
    }
    return render(request, "assessments/team_weakest.html", context)


def _days(raw: str | None) -> tuple[int, str]:
    """N from ?days=, 1 to 365; a bad value falls back to the default and says so."""
    if not raw:
        return Team.QUIET_DAYS, ""
    try:
        days = int(raw)
    except ValueError:
        return Team.QUIET_DAYS, f"“{raw}” is not a number of days; showing {Team.QUIET_DAYS}."
    if not 1 <= days <= 365:
        return Team.QUIET_DAYS, f"Days must be 1 to 365, not {days}; showing {Team.QUIET_DAYS}."
    return days, ""


@require_GET
def team_inactive(request: Request, slug: str) -> HttpResponse:
    team = _team(request, slug, "teams.review")
    days, days_error = _days(request.GET.get("days"))
    context = {
        "team": team,
        "days": days,
        "days_error": days_error,
        "quiet": inactive_members(team, days=days),
        "tab": "inactive",
    }
    template = "assessments/team_inactive.html#quiet-members" if request.htmx else "assessments/team_inactive.html"
    return render(request, template, context)


def _member(request: Request, slug: str, username: str) -> tuple[Team, Membership]:
    """The team and the member whose pages are asked for: a 404 unless both are the viewer's team's;
    a 403 unless the viewer may see members' progress (or it is their own)."""
    team = get_object_or_404(Team.objects.of(request.user), slug=slug)
    membership = get_object_or_404(team.memberships.select_related("user"), user__username=username)
    if membership.user_id != request.user.pk and not rules.test_rule("teams.view_member_progress", request.user, team):
        raise PermissionDenied(AGGREGATES_ONLY)
    return team, membership


@require_GET
def member_dashboard(request: Request, slug: str, username: str) -> HttpResponse:
    """The member's dashboard, read-only: the same page the learner sees, without their controls."""
    team, membership = _member(request, slug, username)
    board = build_dashboard(membership.user, request.GET.get("roadmap"))
    if request.GET.get("roadmap") and board.roadmap is None:
        return redirect("teams:member-dashboard", team.slug, username)
    context = {
        "board": board,
        "roadmap": board.roadmap,
        "time_zone": settings.TIME_ZONE,
        "team": team,
        "learner": membership.user,
    }
    return render(request, "assessments/dashboard.html", context)


@require_GET
def member_progress(request: Request, slug: str, username: str, roadmap_slug: str) -> HttpResponse:
    """The member's checklist of a roadmap, read-only."""
    team, membership = _member(request, slug, username)
    roadmap = get_object_or_404(Roadmap.objects.current(), slug=roadmap_slug)
    context = {
        "roadmap": roadmap,
        "layers": checklist_layers(roadmap),
        "progress": Progress.load(membership.user, roadmap),
        "team": team,
        "learner": membership.user,
    }
    return render(request, "assessments/progress_detail.html", context)
