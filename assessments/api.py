"""The learner's API (who am I, my progress, set a topic's status) and the gate API (request
sign-off, the reviewer inbox, decisions). Token auth only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Path, Query, Router, Schema, Status
from ninja.decorators import decorate_view
from ninja.errors import HttpError
from pydantic import ConfigDict, WithJsonSchema, field_validator, model_validator

from accounts.api import (
    ID_MAX,
    NOT_BLANK,
    ErrorOut,
    FieldError,
    ObjectId,
    PageIn,
    PageOut,
    StrictIn,
    atomic_write,
    choices,
    paginate,
    token_auth,
)
from accounts.models import Membership, User
from assessments.models import (
    KEEP,
    MARKS,
    AuditEvent,
    GateError,
    GateRequest,
    GateStatus,
    NotAllowed,
    Review,
    SelfAssessment,
    TopicNote,
    TopicProgress,
)
from assessments.models import Status as TopicStatus
from assessments.models.states import REPLY_MAX_LENGTH
from assessments.progress import Progress
from portfolio.models import Artifact, ArtifactVersion, ResultUpload
from roadmap.models import EvaluationGate, Layer, Roadmap, Topic

router = Router(tags=["me"], auth=token_auth)

TopicStatusChoice = Annotated[TopicStatus, choices(TopicStatus)]
GateStatusChoice = Annotated[GateStatus, choices(GateStatus)]
DecisionChoice = Annotated[Review.Decision, choices(Review.Decision)]


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
    status: TopicStatusChoice
    confidence: int | None
    updated_at: datetime


class RoadmapProgressOut(Schema):
    roadmap: str
    title: str
    summary: SummaryOut
    topics: list[TopicProgressOut]


class ProgressOut(Schema):
    roadmaps: list[RoadmapProgressOut]


class ProgressIn(StrictIn):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    # Not nullable in the schema: null is refused (leave the field out to keep the status).
    status: Annotated[TopicStatus | None, WithJsonSchema({"type": "string", "enum": list(TopicStatus.values)})] = Field(
        None, description=f"{', '.join(TopicStatus.values)}; leave out to keep"
    )
    confidence: int | None = Field(None, ge=1, le=5, description="1 to 5; null clears it; leave out to keep")

    @field_validator("status")
    @classmethod
    def status_not_null(cls, value: str | None) -> str | None:
        if value is None:  # only an explicit null gets here: a left-out field is not validated
            raise ValueError(f"must be one of {', '.join(TopicStatus.values)}; leave it out to keep the current one")
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
        status=row.status,
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
@decorate_view(atomic_write)
def progress_update(request: HttpRequest, roadmap: str, topic: str, payload: ProgressIn) -> TopicProgressOut:
    """Fields you leave out keep their value; `"confidence": null` clears it."""
    target = Topic.objects.at(roadmap, topic).select_related("roadmap", "layer").first()
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


# --- gates and reviews ------------------------------------------------------------------------

gates_router = Router(tags=["gates and reviews"], auth=token_auth)


class EvidenceIn(StrictIn):
    artifact: ObjectId = Field(description="id of one of your artifacts")
    version: ObjectId | None = Field(None, description="its version number; leave out for the newest")


class GateRequestIn(StrictIn):
    explanation: str = Field("", description="Markdown: how your evidence meets each criterion")
    ticks: list[Annotated[int, Field(ge=0, le=ID_MAX)]] = Field(
        [], description="0-based indexes of the gate's criteria you meet"
    )
    evidence: list[EvidenceIn] = Field([], description="artifact versions to pin (replaces what is pinned)")
    results: list[ObjectId] = Field([], description="ids of your results uploads to pin")
    submit: bool = Field(True, description="submit for review; false keeps it a draft")


class CriterionOut(Schema):
    criterion: str
    ticked: bool


class ReplyIn(StrictIn):
    body: str = Field(
        description="Markdown; not empty", max_length=REPLY_MAX_LENGTH, json_schema_extra={"pattern": NOT_BLANK}
    )


class ReplyOut(Schema):
    id: int
    author: str | None = Field(description="username; null once that account is deleted")
    at: datetime
    status: GateStatusChoice = Field(description="the request's status when the reply was written")
    body: str


def _reply_out(event: AuditEvent) -> ReplyOut:
    author = event.actor.username if event.actor else None
    return ReplyOut(id=event.pk, author=author, at=event.created_at, status=event.to_status, body=event.payload["body"])


class GateRequestOut(Schema):
    id: int
    learner: str
    roadmap: str
    layer: str
    status: GateStatusChoice
    explanation: str
    criteria: list[CriterionOut]
    evidence: list[dict[str, Any]] = Field(
        description="pinned versions and results by hash; run_state is passed, failed, running or stale "
        "(graded by an older grader than the one deployed now)"
    )
    gaps: list[str]
    machine_evidence_gaps: list[str] = Field(
        description="required runnable artifacts without a run that passed on the current grader: approving "
        "needs an attest_reason while there are any"
    )
    attested: bool = Field(description="approved on a reviewer's attestation rather than machine-verified evidence")
    attestation_reason: str
    evidence_no_longer_passes: bool = Field(
        description="a regrade found the evidence failing; until a reviewer decides"
    )
    evidence_failing: list[str]
    content_version: str
    created_at: datetime
    submitted_at: datetime | None
    decided_at: datetime | None
    reviewer: str | None
    replies: list[ReplyOut] = Field(description="the conversation on the request, oldest first")
    url: str
    review_url: str


class PendingOut(Schema):
    id: int
    learner: str
    learner_name: str
    roadmap: str
    layer: str
    layer_title: str
    status: GateStatusChoice
    submitted_at: datetime | None
    waiting_seconds: int
    runs_verified: int
    runs_required: int
    review_url: str


class DecisionIn(StrictIn):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "allOf": [
                {  # requesting changes needs a comment, and takes no attest_reason
                    "anyOf": [
                        {"properties": {"decision": {"const": "approve"}}},
                        {
                            "required": ["comment"],
                            "properties": {"comment": {"pattern": NOT_BLANK}, "attest_reason": {"pattern": "^\\s*$"}},
                        },
                    ]
                }
            ]
        },
    )

    decision: DecisionChoice
    comment: str = Field("", description="Markdown; required to request changes")
    marks: list[str] = Field(
        [],
        description="one per criterion, in order; approving needs every one 'met'",
        json_schema_extra={"items": {"type": "string", "enum": [*MARKS, ""]}},
    )
    attest_reason: str = Field(
        "",
        max_length=5000,
        description="only to approve without machine evidence (see machine_evidence_gaps): why you vouch for "
        "the work; kept in the audit trail, and the gate is labelled attested",
    )

    quote: ObjectId | None = Field(None, description="id of a reply of the request's conversation the decision answers")

    @model_validator(mode="after")
    def attest_only_to_approve(self) -> DecisionIn:
        if self.attest_reason.strip() and self.decision != Review.Decision.APPROVE:
            raise ValueError("attest_reason goes with decision 'approve' only; leave it out to request changes")
        return self


class DecisionOut(Schema):
    review: int
    decision: DecisionChoice
    request: GateRequestOut


def _gate_error(exc: GateError, *, status: int = 422) -> Status[ErrorOut]:
    return Status(
        status,
        ErrorOut(message=f"{exc.field}: {exc.message}", errors=[FieldError(field=exc.field, message=exc.message)]),
    )


def _request_out(request: HttpRequest, gate_request: GateRequest) -> GateRequestOut:
    layer = gate_request.gate.layer
    evidence = gate_request.evidence_list()
    requirements = gate_request.requirements(evidence)
    return GateRequestOut(
        id=gate_request.pk,
        learner=gate_request.learner.username,
        roadmap=layer.roadmap.slug,
        layer=layer.slug,
        status=gate_request.status,
        explanation=gate_request.explanation,
        criteria=[CriterionOut(criterion=c["criterion"], ticked=bool(c["ticked"])) for c in gate_request.checklist],
        evidence=[{**e.snapshot(), "run_state": e.verdict_state or None} for e in evidence],
        gaps=[r.message for r in requirements if not r.ok],
        machine_evidence_gaps=[r.message for r in requirements if r.blocks_approval],
        attested=gate_request.attested,
        attestation_reason=gate_request.attestation_reason,
        evidence_no_longer_passes=gate_request.evidence_no_longer_passes,
        evidence_failing=gate_request.evidence_failing,
        content_version=gate_request.content_version,
        created_at=gate_request.created_at,
        submitted_at=gate_request.submitted_at,
        decided_at=gate_request.decided_at,
        reviewer=gate_request.reviewer.username if gate_request.reviewer else None,
        replies=[_reply_out(event) for event in gate_request.thread()],
        url=request.build_absolute_uri(gate_request.get_absolute_url()),
        review_url=request.build_absolute_uri(gate_request.get_review_url()),
    )


def _evidence(user: User, payload: GateRequestIn) -> tuple[list[ArtifactVersion], list[ResultUpload]]:
    """The versions and results uploads the payload names, among the user's own; GateError names
    the first entry that is not."""
    versions = []
    for i, item in enumerate(payload.evidence):
        artifact = Artifact.objects.of(user).filter(pk=item.artifact).first()
        if artifact is None:
            raise GateError(f"you have no artifact {item.artifact}", field=f"evidence.{i}.artifact")
        version = artifact.version_numbered(item.version)
        if version is None:
            which = "no versions yet" if item.version is None else f"no version {item.version}"
            raise GateError(f"artifact {artifact.pk} has {which}", field=f"evidence.{i}.version")
        versions.append(version)
    uploads = []
    for i, result_id in enumerate(payload.results):
        upload = ResultUpload.objects.of(user).filter(pk=result_id).first()
        if upload is None:
            raise GateError(f"you have no results upload {result_id}", field=f"results.{i}")
        uploads.append(upload)
    return versions, uploads


@gates_router.post(
    "/gates/{roadmap}/{layer}/requests",
    response={200: GateRequestOut, 201: GateRequestOut, 409: ErrorOut, 422: ErrorOut},
    summary="Request sign-off of a layer's gate, with evidence",
)
@decorate_view(atomic_write)
def create_gate_request(request: HttpRequest, roadmap: str, layer: str, payload: GateRequestIn) -> Status[Any]:
    """Opens your request for the gate (or updates your draft, or the one that had changes
    requested or was reopened: that is how you resubmit), pins the evidence you name, and
    submits it unless `submit` is false. 201 when it created the request, 200 when it updated
    yours. A request already submitted, in review or approved is a 409: withdraw it first, or
    wait for the decision. Missing evidence does not stop a submission; `gaps` lists it. A
    refused request changes nothing: no draft is left behind, and what was pinned stays pinned."""
    user = _user(request)
    gate = EvaluationGate.objects.current().for_layer(roadmap, layer).select_related("layer__roadmap").first()
    if gate is None:
        if not Layer.objects.current().filter(roadmap__slug=roadmap, slug=layer).exists():
            raise Http404(f"No layer {layer!r} in roadmap {roadmap!r}.")
        raise Http404(f"Layer {layer!r} of {roadmap!r} has no gate.")
    existed = GateRequest.objects.of(user).live().filter(gate=gate).exists()
    try:
        gate_request = GateRequest.open(user, gate)
        gate_request.edit(by=user, explanation=payload.explanation, ticks=payload.ticks)
        versions, uploads = _evidence(user, payload)
        gate_request.replace_evidence(by=user, versions=versions, results=uploads)
        if payload.submit:
            gate_request.submit(by=user)
    except GateError as exc:
        return _gate_error(exc, status=409 if exc.field == "status" else 422)
    return Status(200 if existed else 201, _request_out(request, gate_request))


def _visible_request(request: HttpRequest, request_id: int) -> GateRequest:
    related = ("gate__layer__roadmap", "learner", "reviewer")
    return get_object_or_404(GateRequest.objects.visible_to(_user(request)).select_related(*related), pk=request_id)


@gates_router.get("/gate-requests/{request_id}", response=GateRequestOut, summary="A gate request")
def get_gate_request(request: HttpRequest, request_id: Path[ObjectId]) -> GateRequestOut:
    """Yours, or one of a learner of a team you review or lead (404 otherwise)."""
    return _request_out(request, _visible_request(request, request_id))


class GateRequestListOut(Schema):
    id: int
    roadmap: str
    layer: str
    layer_title: str
    status: GateStatusChoice
    attested: bool
    created_at: datetime
    submitted_at: datetime | None
    decided_at: datetime | None
    url: str = Field(description="its page")
    detail: str = Field(description="its JSON (GET /api/v1/gate-requests/{id}): evidence, gaps, replies")


class GateRequestPage(PageOut):
    items: list[GateRequestListOut]


class GateRequestFilter(PageIn):
    status: GateStatusChoice | None = Field(None, description="only requests in this status")


@gates_router.get("/gate-requests", response=GateRequestPage, summary="Your gate requests, most recently changed first")
def list_gate_requests(request: HttpRequest, filters: Query[GateRequestFilter]) -> dict[str, Any]:
    """Yours only, drafts included; the requests you review are in GET /api/v1/reviews/pending."""
    rows = GateRequest.objects.of(_user(request)).select_related("gate__layer__roadmap")
    if filters.status is not None:
        rows = rows.filter(status=filters.status)

    def item(r: GateRequest) -> GateRequestListOut:
        return GateRequestListOut(
            id=r.pk,
            roadmap=r.gate.layer.roadmap.slug,
            layer=r.gate.layer.slug,
            layer_title=r.gate.layer.title,
            status=r.status,
            attested=r.attested,
            created_at=r.created_at,
            submitted_at=r.submitted_at,
            decided_at=r.decided_at,
            url=request.build_absolute_uri(r.get_absolute_url()),
            detail=request.build_absolute_uri(f"/api/v1/gate-requests/{r.pk}"),
        )

    return paginate(request, rows, filters, item)


@gates_router.get("/reviews/pending", response=list[PendingOut], summary="Your review inbox, oldest first")
def pending_reviews(request: HttpRequest) -> list[PendingOut]:
    """Submitted and in-review requests of learners in the teams you review or lead; never your own."""
    now = timezone.now()
    pending = GateRequest.objects.awaiting_decision_by(_user(request))
    rows = []
    for r in pending:
        verified, required = r.run_summary(r.evidence.all(), r.gate.required_artifacts.all())
        rows.append(
            PendingOut(
                id=r.pk,
                learner=r.learner.username,
                learner_name=r.learner.name,
                roadmap=r.gate.layer.roadmap.slug,
                layer=r.gate.layer.slug,
                layer_title=r.gate.layer.title,
                status=r.status,
                submitted_at=r.submitted_at,
                waiting_seconds=int((now - r.submitted_at).total_seconds()) if r.submitted_at else 0,
                runs_verified=verified,
                runs_required=required,
                review_url=request.build_absolute_uri(r.get_review_url()),
            )
        )
    return rows


@gates_router.post(
    "/gate-requests/{request_id}/decision",
    response={200: DecisionOut, 403: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Approve a gate request or request changes",
)
@decorate_view(atomic_write)
def decide_gate_request(request: HttpRequest, request_id: Path[ObjectId], payload: DecisionIn) -> Status[Any]:
    """Only a reviewer or lead of a team the learner belongs to may decide, never the learner
    (403 with the reason). `marks` gives one mark per criterion in order; approving needs every
    one `met` and, for each required runnable artifact, a pinned version whose run passed on the
    current grader; otherwise it is refused (422 naming `evidence` and the spec) unless an
    `attest_reason` records why you vouch for it anyway. Requesting changes needs a `comment`."""
    user = _user(request)
    gate_request = _visible_request(request, request_id)
    try:
        if payload.decision == "approve":
            review = gate_request.approve(
                by=user,
                marks=payload.marks,
                comment=payload.comment,
                attest_reason=payload.attest_reason,
                quote=payload.quote,
            )
        else:
            review = gate_request.request_changes(
                by=user, marks=payload.marks, comment=payload.comment, quote=payload.quote
            )
    except NotAllowed as exc:
        return _gate_error(exc, status=403)
    except GateError as exc:
        return _gate_error(exc, status=409 if exc.field == "status" else 422)
    return Status(
        200, DecisionOut(review=review.pk, decision=review.decision, request=_request_out(request, gate_request))
    )


@gates_router.post(
    "/gate-requests/{request_id}/replies",
    response={201: ReplyOut, 403: ErrorOut, 409: ErrorOut, 422: ErrorOut},
    summary="Reply on a gate request",
)
@decorate_view(atomic_write)
def create_reply(request: HttpRequest, request_id: Path[ObjectId], payload: ReplyIn) -> Status[Any]:
    """The learner and the reviewers and leads of their teams reply, once the request is submitted
    and until it is withdrawn (409 otherwise); the other side is notified."""
    user = _user(request)
    gate_request = _visible_request(request, request_id)
    try:
        event = gate_request.reply(by=user, body=payload.body)
    except NotAllowed as exc:
        return _gate_error(exc, status=403)
    except GateError as exc:
        return _gate_error(exc, status=409 if exc.field == "status" else 422)
    return Status(201, _reply_out(event))


# --- your notes and self-ratings -----------------------------------------------------------------

records_router = Router(tags=["me"], auth=token_auth)


class NoteOut(Schema):
    id: int
    roadmap: str
    layer: str
    topic: str
    title: str = Field(description="the topic's title")
    body: str = Field(description="Markdown")
    created_at: datetime
    updated_at: datetime


class NotePage(PageOut):
    items: list[NoteOut]


class SelfAssessmentOut(Schema):
    id: int
    roadmap: str
    layer: str
    layer_title: str
    level: int = Field(ge=0, le=6)
    justification: str = Field(description="Markdown")
    current: bool = Field(description="the newest rating of its layer (the one that counts)")
    created_at: datetime


class SelfAssessmentPage(PageOut):
    items: list[SelfAssessmentOut]


class RoadmapFilter(PageIn):
    roadmap: str | None = Field(None, description="only this roadmap's (its slug)")


@records_router.get("/notes", response=NotePage, summary="Your topic notes, most recently edited first")
def list_notes(request: HttpRequest, filters: Query[RoadmapFilter]) -> dict[str, Any]:
    rows = (
        TopicNote.objects.of(_user(request))
        .exclude(body="")
        .select_related("topic__roadmap", "topic__layer")
        .order_by("-updated_at", "-pk")
    )
    if filters.roadmap is not None:
        rows = rows.filter(topic__roadmap__slug=filters.roadmap)

    def item(note: TopicNote) -> NoteOut:
        return NoteOut(
            id=note.pk,
            roadmap=note.topic.roadmap.slug,
            layer=note.topic.layer.slug,
            topic=note.topic.slug,
            title=note.topic.title,
            body=note.body,
            created_at=note.created_at,
            updated_at=note.updated_at,
        )

    return paginate(request, rows, filters, item)


@records_router.get(
    "/self-assessments", response=SelfAssessmentPage, summary="Your self-ratings per layer, newest first"
)
def list_self_assessments(request: HttpRequest, filters: Query[RoadmapFilter]) -> dict[str, Any]:
    """Every rating you gave, history included; `current` marks the newest of each layer."""
    mine = SelfAssessment.objects.of(_user(request))
    current = set(mine.newest().values_list("pk", flat=True))
    rows = mine.select_related("layer__roadmap")
    if filters.roadmap is not None:
        rows = rows.filter(layer__roadmap__slug=filters.roadmap)

    def item(row: SelfAssessment) -> SelfAssessmentOut:
        return SelfAssessmentOut(
            id=row.pk,
            roadmap=row.layer.roadmap.slug,
            layer=row.layer.slug,
            layer_title=row.layer.title,
            level=row.level,
            justification=row.justification,
            current=row.pk in current,
            created_at=row.created_at,
        )

    return paginate(request, rows, filters, item)
