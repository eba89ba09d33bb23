"""The learner's API: who am I, my progress, set a topic's status. Token auth only."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from pydantic import field_validator, model_validator

from accounts.api import token_auth
from accounts.models import Membership, User
from assessments.models import KEEP, TopicProgress
from assessments.progress import Progress
from roadmap.models import Roadmap, Topic

router = Router(tags=["me"], auth=token_auth)

StatusValue = Literal["not_started", "learning", "done", "skipped"]


class TeamRoleOut(Schema):
    team: str
    name: str
    role: str


class MeOut(Schema):
    username: str
    display_name: str
    email: str
    teams: list[TeamRoleOut]


class SummaryOut(Schema):
    done: int
    learning: int
    skipped: int
    not_started: int
    total: int
    complete: bool
    layers_complete: int
    layers: int


class TopicProgressOut(Schema):
    roadmap: str
    topic: str
    title: str
    layer: str
    retired: bool
    status: StatusValue
    confidence: int | None
    updated_at: datetime


class RoadmapProgressOut(Schema):
    roadmap: str
    title: str
    summary: SummaryOut
    topics: list[TopicProgressOut]


class ProgressOut(Schema):
    roadmaps: list[RoadmapProgressOut]


class ProgressIn(Schema):
    status: StatusValue | None = Field(None, description="not_started, learning, done or skipped; leave out to keep")
    confidence: int | None = Field(None, ge=1, le=5, description="1 to 5; null clears it; leave out to keep")

    @field_validator("status")
    @classmethod
    def status_not_null(cls, value: str | None) -> str | None:
        if value is None:  # only an explicit null gets here: a left-out field is not validated
            raise ValueError(
                "must be one of not_started, learning, done, skipped; leave it out to keep the current one"
            )
        return value

    @model_validator(mode="after")
    def something_to_set(self) -> ProgressIn:
        if not self.model_fields_set & {"status", "confidence"}:
            raise ValueError("send status, confidence, or both")
        return self


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _summary(progress: Progress) -> SummaryOut:
    return SummaryOut(
        **progress.overall.as_dict(), layers_complete=progress.complete_layer_count, layers=progress.layer_count
    )


def _topic_out(row: TopicProgress) -> TopicProgressOut:
    return TopicProgressOut(
        roadmap=row.topic.roadmap.slug,
        topic=row.topic.slug,
        title=row.topic.title,
        layer=row.topic.layer.slug,
        retired=row.topic.retired,
        status=row.status,  # type: ignore[arg-type]
        confidence=row.confidence,
        updated_at=row.updated_at,
    )


def _roadmap_progress(user: User, roadmap: Roadmap) -> RoadmapProgressOut:
    rows = (
        TopicProgress.objects.of(user)
        .in_roadmap(roadmap)
        .select_related("topic__roadmap", "topic__layer")
        .order_by("topic__layer__number", "topic__order")
    )
    return RoadmapProgressOut(
        roadmap=roadmap.slug,
        title=roadmap.title,
        summary=_summary(Progress.load(user, roadmap)),
        topics=[_topic_out(row) for row in rows],
    )


@router.get("", response=MeOut, summary="The user of the token, with teams and roles")
def me(request: HttpRequest) -> MeOut:
    user = _user(request)
    memberships = Membership.objects.filter(user=user).select_related("team")
    return MeOut(
        username=user.username,
        display_name=user.display_name,
        email=user.email,
        teams=[TeamRoleOut(team=m.team.slug, name=m.team.name, role=m.role) for m in memberships],
    )


@router.get("/progress", response=ProgressOut, summary="Your progress: per-topic status and a summary per roadmap")
def progress(request: HttpRequest, roadmap: str | None = None) -> ProgressOut:
    """With `roadmap`, that roadmap only (404 if unknown); without, every roadmap you have marked topics in.

    `topics` lists the topics you have a status or confidence for, retired ones included (flagged);
    the summary counts current topics only. Skipped is counted apart from done.
    """
    user = _user(request)
    if roadmap is not None:
        roadmaps = [get_object_or_404(Roadmap.objects.current(), slug=roadmap)]
    else:
        roadmaps = list(Roadmap.objects.current().filter(topics__progress__user=user).distinct())
    return ProgressOut(roadmaps=[_roadmap_progress(user, r) for r in roadmaps])


@router.put(
    "/progress/{roadmap}/{topic}",
    response={200: TopicProgressOut},
    summary="Set a topic's status and/or confidence",
)
def progress_update(request: HttpRequest, roadmap: str, topic: str, payload: ProgressIn) -> TopicProgressOut:
    """Fields you leave out keep their value; `"confidence": null` clears it."""
    found = Topic.objects.filter(roadmap__slug=roadmap, roadmap__retired=False, slug=topic).select_related(
        "roadmap", "layer"
    )
    target = found.first()
    if target is None:
        if not Roadmap.objects.current().filter(slug=roadmap).exists():
            raise Http404(f"No roadmap {roadmap!r}.")
        raise Http404(f"No topic {topic!r} in roadmap {roadmap!r}.")
    sent = payload.model_fields_set
    try:
        row = TopicProgress.mark(
            _user(request),
            target,
            status=payload.status if "status" in sent else KEEP,
            confidence=payload.confidence if "confidence" in sent else KEEP,
        )
    except ValueError as exc:  # the schema checks first; this is the model's last word
        raise HttpError(422, str(exc)) from exc
    row.topic = target
    return _topic_out(row)
