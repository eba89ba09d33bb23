"""What a learner records: topic progress, self-assessments, notes and links, followed paths;
and gate requests with their evidence, reviews, audit trail, credentials and verified levels.

Every row belongs to one user and is looked up through `.of(user)`, so another person's data is
a 404. Rows point at topics and layers, whose identity survives content reloads (the loader
retires, never deletes), so nothing here is lost when the roadmap files change.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.validators import URLValidator
from django.db import IntegrityError, models, transaction
from django.db.models import Case, Count, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce, NullIf, TruncDate
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Notification, User
from portfolio.models import Artifact, ArtifactVersion, ResultUpload, Run
from roadmap.markdown import render_markdown
from roadmap.models import ArtifactSpec, EvaluationGate, Layer, LearningPath, Roadmap, Topic

if TYPE_CHECKING:
    from django.utils.safestring import SafeString

LEVEL_RANGE = range(0, 7)
CONFIDENCE_RANGE = range(1, 6)


class _Keep:
    """Leave a field as it is (None would clear it)."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()


class Status(models.TextChoices):
    NOT_STARTED = "not_started", "Not started"
    LEARNING = "learning", "Learning"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"


CLOSED = (Status.DONE, Status.SKIPPED)


class TopicProgressQuerySet(models.QuerySet["TopicProgress"]):
    def of(self, user: User) -> TopicProgressQuerySet:
        return self.filter(user=user)

    def in_roadmap(self, roadmap: Roadmap) -> TopicProgressQuerySet:
        return self.filter(topic__roadmap=roadmap)

    def current(self) -> TopicProgressQuerySet:
        """Rows whose topic the content still contains."""
        return self.filter(topic__retired=False)

    def closed(self) -> TopicProgressQuerySet:
        return self.filter(status__in=CLOSED)

    def states(self) -> dict[int, TopicState]:
        """{topic pk: TopicState}, in one query."""
        return {
            topic_id: TopicState(status, confidence)
            for topic_id, status, confidence in self.values_list("topic_id", "status", "confidence")
        }


class TopicState:
    """A learner's status and confidence for one topic; the default for a topic with no row."""

    __slots__ = ("confidence", "status")

    # The buttons: a pressed one sends "not_started" (or no confidence), so each is a toggle.
    choices = ((Status.LEARNING.value, "Learning"), (Status.DONE.value, "Done"), (Status.SKIPPED.value, "Skipped"))
    confidence_choices = tuple(CONFIDENCE_RANGE)

    def __init__(self, status: str = Status.NOT_STARTED, confidence: int | None = None) -> None:
        self.status = status
        self.confidence = confidence

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TopicState) and (self.status, self.confidence) == (other.status, other.confidence)

    def __repr__(self) -> str:
        return f"TopicState({self.status!r}, {self.confidence!r})"

    @property
    def status_label(self) -> str:
        return Status(self.status).label

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED


class TopicProgress(models.Model):
    """One learner's state on one topic. Skipped is its own status, never counted as done."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="topic_progress")
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="progress")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NOT_STARTED)
    confidence = models.PositiveSmallIntegerField(null=True, blank=True, help_text="1 (shaky) to 5 (could teach it).")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects: ClassVar[TopicProgressQuerySet] = TopicProgressQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "topic"], name="one_progress_per_user_and_topic"),
            models.CheckConstraint(
                condition=models.Q(confidence__isnull=True) | models.Q(confidence__gte=1, confidence__lte=5),
                name="progress_confidence_1_to_5",
            ),
            models.CheckConstraint(condition=models.Q(status__in=Status.values), name="progress_status_valid"),
        ]
        verbose_name_plural = "topic progress"

    def __str__(self) -> str:
        return f"{self.user} · {self.topic}: {self.status}"

    @classmethod
    def mark(cls, user: User, topic: Topic, *, status: str = KEEP, confidence: int | None = KEEP) -> TopicProgress:
        """Set status and/or confidence (KEEP leaves one as it is) and log the change.

        Nothing is written when nothing changes, so a double click does not double the activity.
        """
        if status is not KEEP and status not in Status.values:
            raise ValueError(f"status must be one of {', '.join(Status.values)}, not {status!r}")
        if confidence not in (KEEP, None) and confidence not in CONFIDENCE_RANGE:
            raise ValueError(f"confidence must be 1 to 5 or empty, not {confidence!r}")
        with transaction.atomic():
            progress, _ = cls.objects.select_for_update().get_or_create(user=user, topic=topic)
            changed: list[str] = []
            if status is not KEEP and status != progress.status:
                progress.status = status
                changed.append("status")
            if confidence is not KEEP and confidence != progress.confidence:
                progress.confidence = confidence
                changed.append("confidence")
            if changed:
                progress.updated_at = timezone.now()
                progress.save(update_fields=[*changed, "updated_at"])
                Activity.objects.create(
                    user=user,
                    verb=Activity.Verb.STATUS if "status" in changed else Activity.Verb.CONFIDENCE,
                    topic=topic,
                    status=progress.status,
                    confidence=progress.confidence,
                    created_at=progress.updated_at,
                )
        return progress

    @property
    def state(self) -> TopicState:
        return TopicState(self.status, self.confidence)


class ActivityQuerySet(models.QuerySet["Activity"]):
    def of(self, user: User) -> ActivityQuerySet:
        return self.filter(user=user)

    def day_counts(self) -> Counter[date]:
        """How many things the learner did on each day, in the site's time zone (settings.TIME_ZONE)."""
        rows = (
            self.annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
            .order_by()
            .values("day")
            .annotate(n=Count("id"))
            .values_list("day", "n")
        )
        return Counter(dict(rows))

    def recent(self, limit: int = 20) -> ActivityQuerySet:
        """The newest rows with what the timeline shows of their subject (not its long Markdown)."""
        subject = ("slug", "title", "roadmap__slug")
        return (
            self.select_related("topic__roadmap", "layer__roadmap", "path__roadmap")
            .only(
                "user_id",
                "verb",
                "status",
                "confidence",
                "level",
                "created_at",
                *(f"topic__{f}" for f in subject),
                *(f"layer__{f}" for f in (*subject, "code", "kind")),
                *(f"path__{f}" for f in subject),
            )
            .order_by("-created_at", "-pk")[:limit]
        )


class Activity(models.Model):
    """An append-only log of what a learner did, for the timeline, the heatmap and streaks."""

    class Verb(models.TextChoices):
        STATUS = "status", "Set status"
        CONFIDENCE = "confidence", "Set confidence"
        ASSESSMENT = "assessment", "Rated themselves"
        NOTE = "note", "Wrote a note"
        LINK = "link", "Added a link"
        FOLLOW = "follow", "Followed a path"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="activities")
    verb = models.CharField(max_length=16, choices=Verb.choices)
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    path = models.ForeignKey(LearningPath, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, blank=True)
    confidence = models.PositiveSmallIntegerField(null=True, blank=True)
    level = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects: ClassVar[ActivityQuerySet] = ActivityQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "created_at"], name="activity_user_created")]
        verbose_name_plural = "activities"

    def __str__(self) -> str:
        return f"{self.user} {self.verb} at {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def subject(self) -> Topic | Layer | LearningPath | None:
        return self.topic or self.layer or self.path

    @property
    def description(self) -> str:
        if self.verb == self.Verb.STATUS:
            text = f"Marked {Status(self.status).label.lower()}" if self.status else "Changed status"
            if self.confidence:
                text += f" (confidence {self.confidence}/5)"
            return text
        if self.verb == self.Verb.CONFIDENCE:
            return f"Confidence {self.confidence}/5" if self.confidence else "Cleared confidence"
        if self.verb == self.Verb.ASSESSMENT:
            return f"Rated yourself level {self.level}"
        return self.get_verb_display()


class SelfAssessmentQuerySet(models.QuerySet["SelfAssessment"]):
    def of(self, user: User) -> SelfAssessmentQuerySet:
        return self.filter(user=user)

    def in_roadmap(self, roadmap: Roadmap) -> SelfAssessmentQuerySet:
        return self.filter(layer__roadmap=roadmap)

    def newest(self) -> SelfAssessmentQuerySet:
        """The current rating of each (user, layer): its newest row. One query, any database."""
        newest = SelfAssessment.objects.filter(user=OuterRef("user"), layer=OuterRef("layer")).order_by(
            "-created_at", "-pk"
        )
        return self.filter(pk=Subquery(newest.values("pk")[:1]))

    def levels(self) -> dict[int, int]:
        """{layer pk: current level}."""
        return dict(self.newest().values_list("layer_id", "level"))


class SelfAssessment(models.Model):
    """A learner's own competency level for a layer. Append-only: the newest row is current."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="self_assessments")
    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="self_assessments")
    level = models.PositiveSmallIntegerField()
    justification = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects: ClassVar[SelfAssessmentQuerySet] = SelfAssessmentQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "layer", "created_at"], name="assessment_user_layer_created")]
        constraints = [
            models.CheckConstraint(condition=models.Q(level__gte=0, level__lte=6), name="assessment_level_0_to_6"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.layer}: level {self.level}"

    @classmethod
    def record(cls, user: User, layer: Layer, *, level: int, justification: str) -> SelfAssessment | None:
        """Add a rating unless it repeats the current one; returns the new row or None."""
        if level not in LEVEL_RANGE:
            raise ValueError(f"level must be 0 to 6, not {level!r}")
        justification = justification.strip()
        current = cls.objects.of(user).filter(layer=layer).first()
        if current and current.level == level and current.justification == justification:
            return None
        with transaction.atomic():
            row = cls.objects.create(user=user, layer=layer, level=level, justification=justification)
            Activity.objects.create(
                user=user, verb=Activity.Verb.ASSESSMENT, layer=layer, level=level, created_at=row.created_at
            )
        return row

    @property
    def justification_html(self) -> SafeString:
        return render_markdown(self.justification)


class TopicNoteQuerySet(models.QuerySet["TopicNote"]):
    def of(self, user: User) -> TopicNoteQuerySet:
        return self.filter(user=user)


class TopicNote(models.Model):
    """Private Markdown notes of one learner on one topic, rendered through the sanitiser."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="topic_notes")
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="notes")
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects: ClassVar[TopicNoteQuerySet] = TopicNoteQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["-updated_at"]
        constraints = [models.UniqueConstraint(fields=["user", "topic"], name="one_note_per_user_and_topic")]

    def __str__(self) -> str:
        return f"Note of {self.user} on {self.topic}"

    @classmethod
    def write(cls, user: User, topic: Topic, body: str) -> TopicNote:
        """Save the note's new text; logs an activity only when the text changed."""
        body = body.strip()
        with transaction.atomic():
            note, created = cls.objects.select_for_update().get_or_create(user=user, topic=topic)
            if created or note.body != body:
                note.body = body
                note.updated_at = timezone.now()
                note.save(update_fields=["body", "updated_at"])
                if body:
                    Activity.objects.create(user=user, verb=Activity.Verb.NOTE, topic=topic, created_at=note.updated_at)
        return note

    @property
    def body_html(self) -> SafeString:
        return render_markdown(self.body)


class PersonalLinkQuerySet(models.QuerySet["PersonalLink"]):
    def of(self, user: User) -> PersonalLinkQuerySet:
        return self.filter(user=user)


class PersonalLink(models.Model):
    """A link a learner keeps for a topic. Only http and https: nothing that runs script."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="personal_links")
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="personal_links")
    url = models.URLField(max_length=500, validators=[URLValidator(schemes=["http", "https"])])
    title = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects: ClassVar[PersonalLinkQuerySet] = PersonalLinkQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.title or self.url

    @classmethod
    def add(cls, user: User, topic: Topic, *, url: str, title: str = "") -> PersonalLink:
        with transaction.atomic():
            link = cls.objects.create(user=user, topic=topic, url=url, title=title.strip())
            Activity.objects.create(user=user, verb=Activity.Verb.LINK, topic=topic, created_at=link.created_at)
        return link

    @property
    def label(self) -> str:
        return self.title or self.url

    def get_delete_url(self) -> str:
        return reverse("assessments:link-delete", args=[self.pk])


class PathFollowQuerySet(models.QuerySet["PathFollow"]):
    def of(self, user: User) -> PathFollowQuerySet:
        return self.filter(user=user)

    def current(self) -> PathFollowQuerySet:
        return self.filter(path__retired=False)


class PathFollow(models.Model):
    """A learning path a learner chose; its steps come first among the next topics."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="path_follows")
    path = models.ForeignKey(LearningPath, on_delete=models.CASCADE, related_name="follows")
    created_at = models.DateTimeField(default=timezone.now)

    objects: ClassVar[PathFollowQuerySet] = PathFollowQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["user", "path"], name="follow_path_once")]

    def __str__(self) -> str:
        return f"{self.user} follows {self.path}"

    @classmethod
    def follow(cls, user: User, path: LearningPath) -> PathFollow:
        with transaction.atomic():
            row, created = cls.objects.get_or_create(user=user, path=path)
            if created:
                Activity.objects.create(user=user, verb=Activity.Verb.FOLLOW, path=path, created_at=row.created_at)
        return row

    @classmethod
    def unfollow(cls, user: User, path: LearningPath) -> None:
        cls.objects.of(user).filter(path=path).delete()


# --- gate requests, reviews, audit and credentials (issue 6) ---------------------------------
#
# A learner asks for a layer's gate to be signed off. The request pins its evidence (artifact
# versions by hash, their runs, results uploads), keeps the gate's criteria as they were at
# submission with the learner's ticks, and moves
#     draft -> submitted -> in review -> approved | changes requested (-> submitted again)
# or withdrawn; an approved request can be reopened with a reason (then resubmitted). Every
# transition is a conditional UPDATE and writes an AuditEvent in the same transaction. Who may
# decide is read from Membership on every call, so a reviewer who leaves a team loses access at
# once; nobody decides their own request, whatever their roles.


class GateError(Exception):
    """A change the request's state does not allow; `message` says why and what to do instead,
    `field` names what to fix (the API reports it)."""

    def __init__(self, message: str, *, field: str = "status") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotAllowed(GateError):
    """This person may not do that to this request (their own gate, or not their team's learner)."""


class AuditImmutable(Exception):
    pass


class GateStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    REOPENED = "reopened", "Reopened"
    WITHDRAWN = "withdrawn", "Withdrawn"


# Evidence, ticks and explanation change only in these; a submitted request is what gets reviewed.
EDITABLE = (GateStatus.DRAFT, GateStatus.CHANGES_REQUESTED, GateStatus.REOPENED)
AWAITING_REVIEW = (GateStatus.SUBMITTED, GateStatus.IN_REVIEW)
MARKS = {"met": "Met", "not_met": "Not met"}


def reviewed_learner_ids(user: User) -> QuerySet[Membership]:
    """Ids of the members of every team in which `user` is a reviewer or lead (the user included)."""
    return Membership.objects.filter(
        team__memberships__user_id=user.pk,
        team__memberships__role__in=Membership.REVIEWING_ROLES,
    ).values("user_id")


def best_runs(version_ids: Iterable[int]) -> dict[int, Run]:
    """{version pk: the run that best speaks for it}: a passing sandboxed run, else a passing one,
    else the newest. One query."""
    best: dict[int, Run] = {}
    ids = [pk for pk in version_ids if pk]
    if not ids:
        return best

    def rank(run: Run) -> tuple[bool, bool, int]:
        passed = run.status == Run.Status.SUCCEEDED
        return (passed and run.sandboxed is True, passed, run.pk)

    for run in Run.objects.filter(version_id__in=ids).defer("raw", "log_tail", "tests"):
        if run.version_id not in best or rank(run) > rank(best[run.version_id]):
            best[run.version_id] = run
    return best


def _checklist(criteria: list[str], keep: list[dict[str, Any]] = ()) -> list[dict[str, Any]]:  # type: ignore[assignment]
    """The gate's criteria as a checklist; ticks of criteria whose text did not change are kept."""
    ticked = {item["criterion"] for item in keep if item.get("ticked")}
    return [{"criterion": str(text), "ticked": str(text) in ticked} for text in criteria]


class GateRequestQuerySet(models.QuerySet["GateRequest"]):
    def of(self, user: User) -> GateRequestQuerySet:
        return self.filter(learner_id=user.pk) if user.is_authenticated else self.none()

    def visible_to(self, user: User) -> GateRequestQuerySet:
        """The learner's own, those of learners in teams where the user reviews or leads, and
        every request for staff (who read, but decide only where they review)."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self.all()
        return self.filter(Q(learner_id=user.pk) | Q(learner_id__in=reviewed_learner_ids(user)))

    def decidable_by(self, user: User) -> GateRequestQuerySet:
        """Requests the user may decide: their teams' learners', never their own."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(learner_id__in=reviewed_learner_ids(user)).exclude(learner_id=user.pk)

    def awaiting_review(self) -> GateRequestQuerySet:
        return self.filter(status__in=AWAITING_REVIEW)

    def live(self) -> GateRequestQuerySet:
        """Not withdrawn: at most one per learner and gate."""
        return self.exclude(status=GateStatus.WITHDRAWN)

    def approved(self) -> GateRequestQuerySet:
        return self.filter(status=GateStatus.APPROVED)

    def oldest_first(self) -> GateRequestQuerySet:
        return self.order_by("submitted_at", "pk")


@dataclass(frozen=True)
class Requirement:
    """One artifact the gate requires, and how the request's evidence answers it."""

    spec: ArtifactSpec
    evidence: GateEvidence | None
    state: str  # ok | missing | no_run | running | not_passed | unsandboxed

    @property
    def ok(self) -> bool:
        return self.state == "ok"

    @property
    def message(self) -> str:
        name = f"{self.spec.code} {self.spec.title}"
        e = self.evidence
        if e is None or e.version is None:
            return f"{name}: no version pinned. Pin a version of your {self.spec.title} artifact."
        version = f"version {e.version.number}"
        run = f"run #{e.run_id}" if e.run_id else ""
        return {
            "ok": f"{name}: {version} pinned" + (f", {run} passed on the runner (sandboxed)." if run else "."),
            "no_run": f"{name}: {version} has no run. Run it from the artifact page; a passing verified run is required.",
            "running": f"{name}: {run} of {version} has not finished yet.",
            "not_passed": f"{name}: {run} of {version} ended {e.get_run_status_display().lower()}"
            f"{f' ({e.run_verdict})' if e.run_verdict else ''}; a passing run is required.",
            "unsandboxed": f"{name}: {run} of {version} passed but ran without the sandbox, so it is not verified.",
        }[self.state]


class GateRequest(models.Model):
    """A learner's request to have one gate signed off. See the section comment above."""

    Status = GateStatus

    learner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="gate_requests")
    gate = models.ForeignKey(EvaluationGate, on_delete=models.PROTECT, related_name="requests")
    status = models.CharField(max_length=20, choices=GateStatus.choices, default=GateStatus.DRAFT)
    explanation = models.TextField(blank=True, help_text="Markdown: how the evidence meets the gate.")
    checklist = models.JSONField(
        default=list,
        blank=True,
        help_text='[{"criterion": text, "ticked": bool}]: the gate\'s criteria as they were at submission.',
    )
    content_version = models.CharField(max_length=64, blank=True, help_text="The roadmap's content at submission.")
    reviewer = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who took it into review, then who decided it.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True, help_text="The latest (re)submission.")
    decided_at = models.DateTimeField(null=True, blank=True)
    reopened_at = models.DateTimeField(null=True, blank=True)
    reopened_reason = models.TextField(blank=True)

    objects: ClassVar[GateRequestQuerySet] = GateRequestQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["-updated_at", "-pk"]
        indexes = [models.Index(fields=["status", "submitted_at"], name="gaterequest_status_submitted")]
        constraints = [
            models.UniqueConstraint(
                fields=["learner", "gate"],
                condition=~Q(status="withdrawn"),
                name="one_live_gate_request_per_learner",
            ),
            models.CheckConstraint(condition=Q(status__in=GateStatus.values), name="gate_request_status_valid"),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "withdrawn"]) | Q(submitted_at__isnull=False),
                name="gate_request_submitted_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="approved") | Q(decided_at__isnull=False), name="gate_request_approved_has_time"
            ),
            models.CheckConstraint(
                condition=~Q(status="reopened") | ~Q(reopened_reason=""), name="gate_request_reopened_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"Gate request #{self.pk}: {self.learner} · {self.gate.layer}"

    def get_absolute_url(self) -> str:
        return reverse("gates:request-detail", args=[self.pk])

    def get_review_url(self) -> str:
        return reverse("gates:review-detail", args=[self.pk])

    @cached_property
    def explanation_html(self) -> SafeString:
        return render_markdown(self.explanation)

    @property
    def is_editable(self) -> bool:
        return self.status in EDITABLE

    @property
    def is_awaiting_review(self) -> bool:
        return self.status in AWAITING_REVIEW

    @property
    def ticked_count(self) -> int:
        return sum(1 for item in self.checklist if item.get("ticked"))

    # -- who --

    def is_learner(self, user: User) -> bool:
        return user.is_authenticated and user.pk == self.learner_id

    def can_be_decided_by(self, user: User) -> bool:
        """A reviewer or lead of a team the learner belongs to, now; never the learner."""
        if not user.is_authenticated or user.pk == self.learner_id:
            return False
        return Membership.objects.filter(
            user_id=user.pk,
            role__in=Membership.REVIEWING_ROLES,
            team__memberships__user_id=self.learner_id,
        ).exists()

    def deciders(self) -> QuerySet[User]:
        """Everyone who may decide this request: reviewers and leads of the learner's teams."""
        return (
            User.objects.filter(
                is_active=True,
                memberships__role__in=Membership.REVIEWING_ROLES,
                memberships__team__memberships__user_id=self.learner_id,
            )
            .exclude(pk=self.learner_id)
            .distinct()
        )

    def _require_learner(self, user: User, doing: str) -> None:
        if not self.is_learner(user):
            raise NotAllowed(f"Only the learner who opened this request can {doing} it.")

    def _require_decider(self, user: User) -> None:
        if user.is_authenticated and user.pk == self.learner_id:
            raise NotAllowed("Nobody signs off their own gate: a reviewer or lead of your team decides it.")
        if not self.can_be_decided_by(user):
            raise NotAllowed("Only a reviewer or lead of a team the learner belongs to can decide this request.")

    # -- opening and editing (by the learner) --

    @classmethod
    def open(cls, learner: User, gate: EvaluationGate) -> GateRequest:
        """The learner's live request for `gate`, or a new draft with the gate's criteria."""
        if gate.retired:
            raise GateError("This gate is no longer part of the roadmap; it cannot be requested.")
        live = cls.objects.of(learner).live().filter(gate=gate).first()
        if live is not None:
            return live
        try:
            with transaction.atomic():
                request = cls.objects.create(learner=learner, gate=gate, checklist=_checklist(gate.criteria))
                AuditEvent.objects.create(
                    request_id=request.pk,
                    actor=learner,
                    action=AuditEvent.Action.CREATED,
                    to_status=GateStatus.DRAFT,
                    created_at=request.created_at,
                    payload={"gate": gate.pk, "layer": gate.layer_id},
                )
        except IntegrityError:  # a second click made it meanwhile
            return cls.objects.of(learner).live().get(gate=gate)
        return request

    def _touch_editable(self) -> None:
        """Inside a transaction: fail unless the request is still editable, and mark it changed."""
        if not GateRequest.objects.filter(pk=self.pk, status__in=EDITABLE).update(updated_at=timezone.now()):
            status = GateRequest.objects.filter(pk=self.pk).values_list("status", flat=True).first()
            raise GateError(
                f"This request is {GateStatus(status).label.lower()}, so its evidence and explanation are "
                "frozen. Withdraw it (or ask for it to be reopened) to change them."
            )

    def edit(self, *, by: User, explanation: str = KEEP, ticks: Iterable[int] = KEEP) -> None:
        """Change the explanation and/or which criteria the learner ticks (indexes into the checklist)."""
        self._require_learner(by, "edit")
        fields: dict[str, Any] = {}
        if explanation is not KEEP:
            fields["explanation"] = explanation.strip()
        if ticks is not KEEP:
            chosen = set(ticks)
            fields["checklist"] = [{**item, "ticked": i in chosen} for i, item in enumerate(self.checklist)]
        with transaction.atomic():
            self._touch_editable()
            GateRequest.objects.filter(pk=self.pk).update(**fields)
        self.refresh_from_db()

    def pin(self, version: ArtifactVersion, *, by: User) -> GateEvidence:
        """Pin a version of one of the learner's artifacts; it replaces another version of the same artifact."""
        self._require_learner(by, "change the evidence of")
        if version.artifact.owner_id != self.learner_id:
            raise NotAllowed("Only versions of your own artifacts can be evidence.")
        with transaction.atomic():
            self._touch_editable()
            self.evidence.filter(artifact_id=version.artifact_id, version__isnull=False).delete()
            evidence = GateEvidence(
                request=self, artifact_id=version.artifact_id, version=version, sha256=version.sha256
            )
            evidence.copy_run(best_runs([version.pk]).get(version.pk))
            evidence.save()
        return evidence

    def pin_result(self, upload: ResultUpload, *, by: User) -> GateEvidence:
        self._require_learner(by, "change the evidence of")
        if upload.artifact.owner_id != self.learner_id:
            raise NotAllowed("Only your own results uploads can be evidence.")
        with transaction.atomic():
            self._touch_editable()
            evidence, _ = GateEvidence.objects.get_or_create(
                request=self,
                result=upload,
                defaults={"artifact_id": upload.artifact_id, "result_sha256": upload.sha256},
            )
        return evidence

    def unpin(self, evidence_id: int, *, by: User) -> None:
        self._require_learner(by, "change the evidence of")
        with transaction.atomic():
            self._touch_editable()
            self.evidence.filter(pk=evidence_id).delete()

    def evidence_list(self) -> list[GateEvidence]:
        """The pinned evidence. While the learner can still edit, each version shows its best run
        now (runs finish after pinning); once submitted, the runs pinned at submission."""
        rows = list(
            self.evidence.select_related("artifact__spec", "version", "result", "run").order_by("artifact_id", "pk")
        )
        if self.is_editable:
            runs = best_runs(e.version_id for e in rows if e.version_id)
            for e in rows:
                if e.version_id:
                    e.copy_run(runs.get(e.version_id))
        return rows

    def requirements(self, evidence: list[GateEvidence] | None = None) -> list[Requirement]:
        """Per artifact the gate requires: a pinned version, and for a runnable spec a passing,
        sandboxed run of that version. Submitting with gaps is allowed (the reviewer sees them)."""
        evidence = self.evidence_list() if evidence is None else evidence
        found = []
        for spec in self.gate.required_artifacts.current():
            pinned = next((e for e in evidence if e.version_id and e.artifact.spec_id == spec.pk), None)
            found.append(Requirement(spec, pinned, _requirement_state(spec, pinned)))
        return found

    def evidence_snapshot(self, evidence: list[GateEvidence] | None = None) -> list[dict[str, Any]]:
        """What is pinned, by hash: written into audit events and reviews."""
        return [e.snapshot() for e in (self.evidence_list() if evidence is None else evidence)]

    def previous_review(self) -> Review | None:
        """The last decision on this learner's requests for this gate before the current submission."""
        reviews = Review.objects.filter(request__learner_id=self.learner_id, request__gate_id=self.gate_id)
        if self.submitted_at:
            reviews = reviews.filter(created_at__lt=self.submitted_at)
        return reviews.select_related("reviewer").first()

    def run_summary(self, evidence: Iterable[GateEvidence], required: Iterable[ArtifactSpec]) -> tuple[int, int]:
        """(runnable required specs with a passing sandboxed run pinned, runnable required specs)."""
        runnable = [spec.pk for spec in required if spec.is_runnable]
        verified = {e.artifact.spec_id for e in evidence if e.version_id and e.passed_verified}
        return sum(1 for pk in runnable if pk in verified), len(runnable)

    # -- transitions --

    def _transition(
        self,
        action: str | Callable[[str], str],
        *,
        by: User,
        to: str,
        allowed: Iterable[str],
        fields: dict[str, Any] | None = None,
        payload: dict[str, Any] | None = None,
    ) -> AuditEvent:
        allowed = tuple(allowed)
        now = timezone.now()
        with transaction.atomic():
            current = GateRequest.objects.select_for_update().filter(pk=self.pk).values_list("status", flat=True).get()
            name = action(current) if callable(action) else action
            if current not in allowed:
                raise GateError(
                    f"Cannot {AuditEvent.Action(name).verb} a request that is {GateStatus(current).label.lower()}; "
                    f"it must be {' or '.join(GateStatus(s).label.lower() for s in allowed)}."
                )
            # The status in the WHERE clause makes a concurrent transition lose cleanly.
            changed = GateRequest.objects.filter(pk=self.pk, status=current).update(
                status=to, updated_at=now, **(fields or {})
            )
            if not changed:
                raise GateError("This request changed while you were looking at it; reload the page and try again.")
            event = AuditEvent.objects.create(
                request_id=self.pk,
                actor=by,
                action=name,
                from_status=current,
                to_status=to,
                created_at=now,
                payload=payload or {},
            )
        self.refresh_from_db()
        return event

    def submit(self, *, by: User) -> AuditEvent:
        """Freeze the evidence (with each version's best run now) and ask the learner's teams to review."""
        self._require_learner(by, "submit")
        self.refresh_from_db()
        if not self.explanation.strip():
            raise GateError(
                "Write your explanation first: how your evidence meets each of the gate's criteria.",
                field="explanation",
            )
        with transaction.atomic():
            self._touch_editable()
            evidence = self.evidence_list()
            for e in evidence:
                if e.version_id:
                    e.save(update_fields=GateEvidence.RUN_FIELDS)
            gaps = [r.message for r in self.requirements(evidence) if not r.ok]
            checklist = _checklist(self.gate.criteria, keep=self.checklist)
            event = self._transition(
                lambda current: (
                    AuditEvent.Action.SUBMITTED if current == GateStatus.DRAFT else AuditEvent.Action.RESUBMITTED
                ),
                by=by,
                to=GateStatus.SUBMITTED,
                allowed=EDITABLE,
                fields={
                    "checklist": checklist,
                    "content_version": self.gate.layer.roadmap.content_version,
                    "submitted_at": timezone.now(),
                    "reviewer": None,
                    "decided_at": None,
                },
                payload={
                    "evidence": self.evidence_snapshot(evidence),
                    "ticked": [item["criterion"] for item in checklist if item["ticked"]],
                    "gaps": gaps,
                },
            )
            title = f"{self.learner.name} asks for sign-off of {self.gate.layer.label}: {self.gate.layer.title}"
            for user in self.deciders():
                Notification.notify(user, Notification.Kind.GATE_SUBMITTED, title, url=self.get_review_url())
        return event

    def start_review(self, *, by: User) -> AuditEvent:
        """A reviewer takes the request, so the others see it is being looked at."""
        self._require_decider(by)
        return self._transition(
            AuditEvent.Action.REVIEW_STARTED,
            by=by,
            to=GateStatus.IN_REVIEW,
            allowed=[GateStatus.SUBMITTED],
            fields={"reviewer": by},
        )

    def approve(self, *, by: User, marks: Sequence[str], comment: str = "") -> Review:
        """Sign off: every criterion must be marked met."""
        return self._decide(Review.Decision.APPROVE, by=by, marks=marks, comment=comment)

    def request_changes(self, *, by: User, comment: str, marks: Sequence[str] = ()) -> Review:
        """Send it back to the learner; the comment says what to change."""
        return self._decide(Review.Decision.CHANGES_REQUESTED, by=by, marks=marks, comment=comment)

    def _decide(self, decision: str, *, by: User, marks: Sequence[str], comment: str) -> Review:
        self._require_decider(by)
        self.refresh_from_db()
        marks = list(marks) or [""] * len(self.checklist)
        if len(marks) != len(self.checklist):
            raise GateError(f"Give one mark per criterion ({len(self.checklist)}), not {len(marks)}.", field="marks")
        if any(m not in ("", *MARKS) for m in marks):
            raise GateError(f"Each mark must be one of {', '.join(MARKS)} (or empty).", field="marks")
        comment = comment.strip()
        approve = decision == Review.Decision.APPROVE
        if approve and any(m != "met" for m in marks):
            raise GateError(
                "Approve only when every criterion is marked met; otherwise request changes.", field="marks"
            )
        if not approve and not comment:
            raise GateError("Say what to change: a comment is required when requesting changes.", field="comment")
        with transaction.atomic():
            if self.status == GateStatus.SUBMITTED:
                self.start_review(by=by)
            evidence = self.evidence_snapshot()
            review = Review.objects.create(
                request=self,
                reviewer=by,
                decision=decision,
                comment=comment,
                marks=[
                    {"criterion": item["criterion"], "mark": mark}
                    for item, mark in zip(self.checklist, marks, strict=True)
                ],
                evidence=evidence,
            )
            self._transition(
                AuditEvent.Action.APPROVED if approve else AuditEvent.Action.CHANGES_REQUESTED,
                by=by,
                to=GateStatus.APPROVED if approve else GateStatus.CHANGES_REQUESTED,
                allowed=[GateStatus.IN_REVIEW],
                fields={"reviewer": by, "decided_at": review.created_at},
                payload={"review": review.pk, "marks": review.marks, "evidence": evidence},
            )
            layer = self.gate.layer
            title = (
                f"{layer.label} approved by {by.name}"
                if approve
                else f"{by.name} requested changes to your {layer.label} request"
            )
            Notification.notify(self.learner, Notification.Kind.GATE_DECIDED, title, url=self.get_absolute_url())
        return review

    def withdraw(self, *, by: User) -> AuditEvent:
        self._require_learner(by, "withdraw")
        return self._transition(
            AuditEvent.Action.WITHDRAWN,
            by=by,
            to=GateStatus.WITHDRAWN,
            allowed=[*EDITABLE, *AWAITING_REVIEW],
        )

    def reopen(self, *, by: User, reason: str) -> AuditEvent:
        """Take back an approval (the learner, or whoever may decide): the verified level drops and
        the request's credentials are revoked; the learner can then change it and resubmit."""
        if not (self.is_learner(by) or self.can_be_decided_by(by)):
            raise NotAllowed("Only the learner or a reviewer or lead of their team can reopen this gate.")
        reason = reason.strip()
        if not reason:
            raise GateError("Say why the gate is reopened; the reason is kept in the gate's history.", field="reason")
        now = timezone.now()
        with transaction.atomic():
            event = self._transition(
                AuditEvent.Action.REOPENED,
                by=by,
                to=GateStatus.REOPENED,
                allowed=[GateStatus.APPROVED],
                fields={"reopened_reason": reason, "reopened_at": now},
                payload={"reason": reason},
            )
            Credential.objects.filter(request=self).active().update(
                revoked_at=now, revoked_reason=f"The gate was reopened: {reason}"
            )
            if by.pk != self.learner_id:
                Notification.notify(
                    self.learner,
                    Notification.Kind.GATE_DECIDED,
                    f"{by.name} reopened your {self.gate.layer.label} gate",
                    url=self.get_absolute_url(),
                    body=reason,
                )
        return event

    def issue_credential(self, *, by: User) -> Credential:
        """The approved gate as a signed credential the learner can share (the same one until revoked)."""
        self._require_learner(by, "share")
        with transaction.atomic():
            current = GateRequest.objects.select_for_update().filter(pk=self.pk).values_list("status", flat=True).get()
            if current != GateStatus.APPROVED:
                raise GateError("Only an approved gate can be shared as a credential.")
            credential = Credential.objects.filter(request=self).active().first()
            if credential is None:
                credential = Credential.issue(self)
                AuditEvent.objects.create(
                    request_id=self.pk,
                    actor=by,
                    action=AuditEvent.Action.CREDENTIAL_ISSUED,
                    from_status=current,
                    to_status=current,
                    created_at=credential.issued_at,
                    payload={"credential": str(credential.pk), "evidence": credential.document.get("evidence", [])},
                )
        return credential


def _requirement_state(spec: ArtifactSpec, pinned: GateEvidence | None) -> str:
    if pinned is None:
        return "missing"
    if not spec.is_runnable:
        return "ok"
    if not pinned.run_id:
        return "no_run"
    if pinned.run_status in Run.ACTIVE:
        return "running"
    if pinned.run_status != Run.Status.SUCCEEDED:
        return "not_passed"
    return "ok" if pinned.run_sandboxed is True else "unsandboxed"


class GateEvidence(models.Model):
    """One pinned piece of evidence: an artifact version (by hash, with the run that speaks for
    it, copied when pinned and again at submission) or a results upload (by hash)."""

    RUN_FIELDS = ("run", "run_status", "run_verdict", "run_score", "run_max_score", "run_sandboxed")

    request = models.ForeignKey(GateRequest, on_delete=models.CASCADE, related_name="evidence")
    artifact = models.ForeignKey(Artifact, on_delete=models.PROTECT, related_name="+")
    version = models.ForeignKey(
        ArtifactVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="gate_evidence"
    )
    sha256 = models.CharField(max_length=64, blank=True, help_text="The version's, copied when pinned.")
    run = models.ForeignKey(Run, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    run_status = models.CharField(max_length=16, choices=Run.Status.choices, blank=True)
    run_verdict = models.CharField(max_length=32, blank=True)
    run_score = models.FloatField(null=True, blank=True)
    run_max_score = models.FloatField(null=True, blank=True)
    run_sandboxed = models.BooleanField(null=True, blank=True)
    result = models.ForeignKey(ResultUpload, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    result_sha256 = models.CharField(max_length=64, blank=True)
    pinned_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["request_id", "artifact_id", "pk"]
        verbose_name_plural = "gate evidence"
        constraints = [
            models.CheckConstraint(
                condition=Q(version__isnull=False) | Q(result__isnull=False), name="gate_evidence_pins_something"
            ),
            models.UniqueConstraint(
                fields=["request", "artifact"],
                condition=Q(version__isnull=False),
                name="gate_evidence_one_version_per_artifact",
            ),
            models.UniqueConstraint(
                fields=["request", "result"], condition=Q(result__isnull=False), name="gate_evidence_result_once"
            ),
        ]

    def __str__(self) -> str:
        return f"Evidence {self.sha256[:12] or self.result_sha256[:12]} for request {self.request_id}"

    def copy_run(self, run: Run | None) -> None:
        self.run = run
        self.run_status = run.status if run else ""
        self.run_verdict = run.verdict if run else ""
        self.run_score = run.score if run else None
        self.run_max_score = run.max_score if run else None
        self.run_sandboxed = run.sandboxed if run else None

    @property
    def passed_verified(self) -> bool:
        return self.run_status == Run.Status.SUCCEEDED and self.run_sandboxed is True

    def snapshot(self) -> dict[str, Any]:
        return {
            "artifact": self.artifact_id,
            "title": self.artifact.title,
            "spec": self.artifact.spec.code if self.artifact.spec else None,
            "version": self.version.number if self.version else None,
            "version_id": self.version_id,
            "sha256": self.sha256 or None,
            "run": self.run_id,
            "run_status": self.run_status or None,
            "run_verdict": self.run_verdict or None,
            "run_sandboxed": self.run_sandboxed,
            "result": self.result_id,
            "result_sha256": self.result_sha256 or None,
        }


class Review(models.Model):
    """A decision on a request, with the evidence (by hash) it was made on. Never changed."""

    class Decision(models.TextChoices):
        APPROVE = "approve", "Approved"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"

    request = models.ForeignKey(GateRequest, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="gate_reviews")
    decision = models.CharField(max_length=20, choices=Decision.choices)
    comment = models.TextField(blank=True, help_text="Markdown.")
    marks = models.JSONField(
        default=list, blank=True, help_text='[{"criterion": text, "mark": "met" | "not_met" | ""}]'
    )
    evidence = models.JSONField(default=list, blank=True, help_text="The evidence decided on, as pinned.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} by {self.reviewer} on request {self.request_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditImmutable("a review is a record of a decision; it is never changed")
        super().save(*args, **kwargs)

    @cached_property
    def comment_html(self) -> SafeString:
        return render_markdown(self.comment)

    @property
    def is_approval(self) -> bool:
        return self.decision == self.Decision.APPROVE


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise AuditImmutable("audit events are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditImmutable("audit events are append-only")

    def of_gate(self, learner_id: int, gate_id: int) -> AuditEventQuerySet:
        """The history of one learner's requests for one gate, oldest first."""
        requests = GateRequest.objects.filter(learner_id=learner_id, gate_id=gate_id).values("pk")
        return self.filter(request_id__in=requests).select_related("actor").order_by("created_at", "pk")


class AuditEvent(models.Model):
    """Append-only: who did what to a request, when, and on which evidence (by hash).

    The model refuses to save a row twice or delete one, its QuerySet refuses update() and
    delete(), and database triggers (migration 0003) refuse UPDATE and DELETE underneath the
    ORM. The one change allowed is the actor becoming NULL when that account is deleted, so the
    trail outlives the people in it. `request` is a plain id (no database constraint) so that a
    learner deleting their account removes their requests but not this record of them.
    """

    class Action(models.TextChoices):
        CREATED = "created", "Opened"
        SUBMITTED = "submitted", "Submitted"
        RESUBMITTED = "resubmitted", "Resubmitted"
        REVIEW_STARTED = "review_started", "Started review"
        APPROVED = "approved", "Approved"
        CHANGES_REQUESTED = "changes_requested", "Requested changes"
        WITHDRAWN = "withdrawn", "Withdrew"
        REOPENED = "reopened", "Reopened"
        CREDENTIAL_ISSUED = "credential_issued", "Issued a credential"

        @property
        def verb(self) -> str:
            return {
                "created": "open",
                "submitted": "submit",
                "resubmitted": "resubmit",
                "review_started": "start reviewing",
                "approved": "approve",
                "changes_requested": "request changes to",
                "withdrawn": "withdraw",
                "reopened": "reopen",
                "credential_issued": "issue a credential for",
            }[self.value]

    request = models.ForeignKey(GateRequest, on_delete=models.DO_NOTHING, db_constraint=False, related_name="events")
    actor = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    action = models.CharField(max_length=24, choices=Action.choices)
    from_status = models.CharField(max_length=20, choices=GateStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=GateStatus.choices, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    payload = models.JSONField(default=dict, blank=True, help_text="Evidence hashes, marks, reasons, gaps.")

    objects: ClassVar[AuditEventQuerySet] = AuditEventQuerySet.as_manager()  # type: ignore[assignment]

    # Columns the triggers keep constant; test_audit checks this lists every column but actor.
    FROZEN_COLUMNS = ("id", "request_id", "action", "from_status", "to_status", "created_at", "payload")

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["request", "created_at"], name="auditevent_request_created")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} request {self.request_id} at {self.created_at:%Y-%m-%d %H:%M:%S}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditImmutable("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditImmutable("audit events are append-only")

    @property
    def actor_name(self) -> str:
        return self.actor.name if self.actor else "a deleted account"

    @property
    def evidence_hashes(self) -> list[str]:
        return [e["sha256"] or e["result_sha256"] for e in self.payload.get("evidence", []) if e]


class CredentialQuerySet(models.QuerySet["Credential"]):
    def active(self) -> CredentialQuerySet:
        return self.filter(revoked_at__isnull=True)


class Credential(models.Model):
    """A signed, shareable statement that a gate was approved (assessments/credentials.py).

    `document` is exactly what was signed and handed out; revocation (the gate reopened) is
    recorded here and checked by the public verification page."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.ForeignKey(GateRequest, on_delete=models.CASCADE, related_name="credentials")
    document = models.JSONField()
    issued_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.TextField(blank=True)

    objects: ClassVar[CredentialQuerySet] = CredentialQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["-issued_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["request"], condition=Q(revoked_at__isnull=True), name="one_active_credential_per_request"
            ),
        ]

    def __str__(self) -> str:
        return f"Credential {self.pk} for request {self.request_id}"

    def get_absolute_url(self) -> str:
        return reverse("gates:credential-detail", args=[self.pk])

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @classmethod
    def issue(cls, request: GateRequest) -> Credential:
        from assessments import credentials

        credential = cls(request=request)
        credential.document = credentials.sign(credentials.build(credential, request))
        credential.save()
        return credential


# --- verified levels ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """A layer whose gate the learner has approved (and not reopened)."""

    level: int  # the competency level the gate counts toward; 0 when the content gives it none
    reviewer: str
    decided_at: datetime
    request_id: int


def verifications(user: User, layers: Iterable[Layer]) -> dict[int, Verification]:
    """{layer pk: Verification} for the layers whose gate `user` has approved. One query."""
    rows = (
        GateRequest.objects.approved()
        .filter(learner_id=user.pk, gate__layer__in=[layer.pk for layer in layers], gate__retired=False)
        .select_related("reviewer", "gate__level")
        .only("gate__layer_id", "gate__level__number", "decided_at", "reviewer", "learner_id", "status")
    )
    return {
        r.gate.layer_id: Verification(
            level=r.gate.level.number if r.gate.level else 0,
            reviewer=r.reviewer.name if r.reviewer else "a deleted account",
            decided_at=r.decided_at,  # type: ignore[arg-type]
            request_id=r.pk,
        )
        for r in rows
    }


def verified_levels(user: User, layers: Iterable[Layer]) -> dict[int, int]:
    """{layer pk: verified level}: the level the layer's approved gate counts toward, else 0. One query."""
    layers = list(layers)
    found = verifications(user, layers)
    return {layer.pk: found[layer.pk].level if layer.pk in found else 0 for layer in layers}


def cumulative_level(gates: Iterable[tuple[int | None, bool]]) -> int:
    """The roadmap-wide verified level from (gate's level, approved?) pairs: level L needs every
    gate of levels 1..L approved, and at least one gate among them (no level is free)."""
    by_level: dict[int, list[bool]] = {}
    for level, approved in gates:
        if level:
            by_level.setdefault(level, []).append(approved)
    reached, seen = 0, False
    for level in range(1, max(by_level, default=0) + 1):
        here = by_level.get(level, [])
        if not all(here):
            break
        seen = seen or bool(here)
        if seen:
            reached = level
    return reached


def with_verification(layers: QuerySet[Layer], user: User) -> QuerySet[Layer]:
    """Layers annotated with their gate's level and the user's approval of it, in the same query:
    `gate_level`, `verified_request`, `verified_at`, `verified_by` (None where not approved)."""
    approved = GateRequest.objects.approved().filter(
        learner_id=user.pk, gate__layer_id=OuterRef("pk"), gate__retired=False
    )
    reviewer = Coalesce(NullIf(F("reviewer__display_name"), Value("")), F("reviewer__username"))
    return layers.annotate(
        gate_level=Case(When(gate__retired=False, then=F("gate__level__number")), default=None),
        verified_request=Subquery(approved.values("pk")[:1]),
        verified_at=Subquery(approved.values("decided_at")[:1]),
        verified_by=Subquery(approved.annotate(name=reviewer).values("name")[:1]),
    )
