"""What a learner records about their own study: topic progress, activity, self-assessments,
notes and links, followed paths.

Every row belongs to one user and is looked up through `.of(user)`, so another person's data is
a 404. Rows point at topics and layers, whose identity survives content reloads (the loader
retires, never deletes), so nothing here is lost when the roadmap files change.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.validators import URLValidator
from django.db import models, transaction
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from roadmap.markdown import render_markdown
from roadmap.models import Layer, LearningPath, Roadmap, Topic

if TYPE_CHECKING:
    from django.utils.safestring import SafeString

LEVEL_RANGE = range(0, 7)
CONFIDENCE_RANGE = range(1, 6)
# What each confidence means, shown beside the 1-5 buttons wherever they appear.
CONFIDENCE_WORDS = {1: "shaky", 2: "know the basics", 3: "can use it", 4: "confident", 5: "could teach it"}


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

    @property
    def is_learning(self) -> bool:
        return self.status == Status.LEARNING


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
