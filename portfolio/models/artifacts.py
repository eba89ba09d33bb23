"""Artifacts, their immutable versions, and the results learners measured elsewhere and upload.

An ArtifactVersion is never changed: a new upload is a new version with its own SHA-256. A version
of a runnable spec asks for a Run (portfolio/models/runs.py) when it is stored.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.db.models import Max, Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, User
from portfolio import results
from portfolio.models.runs import RUN_SUBMISSIONS, Run, RunRefused
from portfolio.uploads import Upload, check_runnable, read_file_or_link
from roadmap.markdown import render_markdown
from roadmap.models import ArtifactSpec, Topic

if TYPE_CHECKING:
    from django.core.files.uploadedfile import UploadedFile
    from django.utils.safestring import SafeString

log = logging.getLogger(__name__)


class ImmutableError(Exception):
    pass


class ArtifactInvalid(ValueError):
    """An artifact we will not create; `field` names what to fix, for the form and the API."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# --- artifacts and versions ------------------------------------------------------------------


class ArtifactQuerySet(models.QuerySet["Artifact"]):
    def of(self, user: User) -> ArtifactQuerySet:
        """The user's own artifacts: the only ones they may change."""
        return self.filter(owner_id=user.pk) if user.is_authenticated else self.none()

    def visible_to(self, user: User) -> ArtifactQuerySet:
        """Their own, plus those of learners in teams where the user reviews (evidence for gates)."""
        if not user.is_authenticated:
            return self.none()
        reviewed = Membership.objects.learners_reviewed_by(user)
        return self.filter(Q(owner_id=user.pk) | Q(owner_id__in=reviewed))


class NewVersion(NamedTuple):
    version: ArtifactVersion
    run: Run | None
    run_refused: str  # why no run was started, when the spec is runnable; "" otherwise
    retry_after: int | None = None  # seconds until a run may be started, when the rate limit refused it


class Artifact(models.Model):
    """A learner's piece of evidence, for one of the catalogue's specs or free-form (no spec)."""

    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="artifacts")
    spec = models.ForeignKey(
        ArtifactSpec,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="learner_artifacts",
        help_text="Empty for a free-form artifact.",
    )
    title = models.CharField(max_length=200)
    topics = models.ManyToManyField(Topic, related_name="learner_artifacts", blank=True)
    notes = models.TextField(blank=True, help_text="Markdown.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = ArtifactQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-pk"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("portfolio:artifact-detail", args=[self.pk])

    @cached_property
    def notes_html(self) -> SafeString:
        return render_markdown(self.notes)

    @classmethod
    def spec_for_code(cls, code: str, roadmap_slug: str | None = None) -> ArtifactSpec:
        """The current spec with this catalogue code ("09"); ArtifactInvalid when there is none, or
        when several roadmaps have the code and none is named."""
        found = list(ArtifactSpec.objects.current().with_code(code, roadmap_slug).select_related("roadmap")[:2])
        if not found:
            raise ArtifactInvalid("spec", f"no artifact spec {code!r}{' in ' + roadmap_slug if roadmap_slug else ''}")
        if len(found) > 1:
            raise ArtifactInvalid("roadmap", f"spec {code!r} exists in several roadmaps; name one")
        return found[0]

    @classmethod
    def topics_named(cls, spec: ArtifactSpec | None, slugs: Iterable[str]) -> list[Topic]:
        """The topics with these slugs among those an artifact of `spec` may cover; ArtifactInvalid
        names the slugs that are not."""
        slugs = set(slugs)
        topics = list(Topic.objects.current().for_spec(spec).filter(slug__in=slugs)) if slugs else []
        unknown = sorted(slugs - {t.slug for t in topics})
        if unknown:
            raise ArtifactInvalid("topics", f"unknown topic slugs: {', '.join(unknown)}")
        return topics

    @classmethod
    def create_for(
        cls, owner: User, *, spec: ArtifactSpec | None, title: str = "", notes: str = "", topics: Iterable[Topic] = ()
    ) -> Artifact:
        """Start an artifact, for a spec or free-form (no spec). The title defaults to the spec's;
        `topics` come from `Topic.objects.current().for_spec(spec)` (the form's choices, or
        `topics_named`). ArtifactInvalid names the field when a free-form artifact has no title."""
        title = (title or (spec.title if spec else "")).strip()
        if not title:
            raise ArtifactInvalid("title", "This field is required for a free-form artifact (one with no spec).")
        with transaction.atomic():
            artifact = cls.objects.create(owner=owner, spec=spec, title=title[:200], notes=notes)
            artifact.topics.set(topics)
        return artifact

    @property
    def is_runnable(self) -> bool:
        return self.spec is not None and self.spec.is_runnable

    def receive(self, file: UploadedFile | None, link: str) -> Upload:
        """A new version's content, from the upload form or the API: a file or a link, read and
        checked (when this artifact's spec runs, its grader must be able to read the file).
        UploadRefused names the field and the file; nothing is written."""
        upload = read_file_or_link(file, link)
        if self.is_runnable:
            check_runnable(self.spec.kind, upload)  # type: ignore[union-attr]
        return upload

    def version_numbered(self, number: int | None = None) -> ArtifactVersion | None:
        """Version `number`, or the newest when no number is given; None when there is no such version."""
        versions = self.versions.all() if number is None else self.versions.filter(number=number)
        return versions.order_by("-number").first()

    def add_version(self, upload: Upload, *, notes: str = "", by: User, run: bool = True) -> NewVersion:
        """Store a new immutable version (and, unless `run` is false, start its run when the spec
        is runnable).

        The file is written only after the upload was checked, inside the same transaction as
        the row; if anything fails the file we wrote is removed, so a refusal leaves nothing.
        """
        written: str | None = None
        try:
            with transaction.atomic():
                number = (self.versions.aggregate(n=Max("number"))["n"] or 0) + 1
                version = ArtifactVersion(
                    artifact=self,
                    number=number,
                    kind=upload.kind,
                    original_filename=upload.filename,
                    size=upload.size,
                    sha256=upload.sha256,
                    url=upload.url,
                    notes=notes,
                )
                if upload.data is not None:
                    version.file.name, written = ArtifactVersion.store(upload.sha256, upload.data)
                version.save()
                Artifact.objects.filter(pk=self.pk).update(updated_at=timezone.now())
                new = NewVersion(version, None, "")
                if run and self.is_runnable:
                    try:
                        new = NewVersion(version, version.request_run(by=by), "")
                    except RunRefused as exc:
                        new = NewVersion(version, None, exc.message, exc.retry_after)
        except BaseException:
            if written:
                default_storage.delete(written)
            raise
        return new

    @property
    def results_schema(self) -> results.ResultsSchema:
        return results.schema_for(self.spec)

    def add_results(
        self,
        document: Any,
        *,
        version: ArtifactVersion | None = None,
        notes: str = "",
        checked: results.Checked | None = None,
    ) -> ResultUpload:
        """Store a self-reported results document; ResultsInvalid (naming the fields) if it does
        not follow this artifact's published schema. Nothing is stored for an invalid document.
        `checked` is the schema's verdict when the caller (a form) already has it."""
        if version is not None and version.artifact_id != self.pk:
            raise ValueError("the version belongs to another artifact")
        if checked is None:
            results.check_document(document)
            checked = self.results_schema.check(document)
        with transaction.atomic():
            upload = ResultUpload.objects.create(
                artifact=self,
                version=version,
                document=document,
                schema=checked.schema,
                schema_version=checked.schema_version,
                sha256=results.canonical_sha256(document),
                validation=checked.validation,
                recomputation=checked.recomputation,
                notes=notes,
            )
            Artifact.objects.filter(pk=self.pk).update(updated_at=timezone.now())
        return upload


class ArtifactVersionQuerySet(models.QuerySet["ArtifactVersion"]):
    def of(self, user: User) -> ArtifactVersionQuerySet:
        """Versions of the user's own artifacts (Artifact.objects.of)."""
        return self.filter(artifact__in=Artifact.objects.of(user))

    def visible_to(self, user: User) -> ArtifactVersionQuerySet:
        """Versions of the artifacts the user may read (Artifact.objects.visible_to)."""
        return self.filter(artifact__in=Artifact.objects.visible_to(user))

    def update(self, **kwargs: Any) -> int:
        raise ImmutableError("artifact versions are immutable; upload a new version instead")


class ArtifactVersion(models.Model):
    """One upload, never changed: a new upload is a new version.

    `sha256` is over the exact uploaded bytes (for a link, over the URL's UTF-8 bytes); files
    are stored once per content under MEDIA_ROOT/artifacts/<sha256[:2]>/<sha256>.
    """

    class Kind(models.TextChoices):
        FILE = "file", "File"
        ZIP = "zip", "Zip archive"
        LINK = "link", "Link"

    artifact = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    file = models.FileField(max_length=300, blank=True)
    original_filename = models.CharField(max_length=255, blank=True)
    url = models.URLField(max_length=2000, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    notes = models.TextField(blank=True, help_text="Markdown.")
    created_at = models.DateTimeField(default=timezone.now)

    objects = ArtifactVersionQuerySet.as_manager()

    class Meta:
        ordering = ["artifact_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["artifact", "number"], name="version_number_unique_in_artifact"),
            models.CheckConstraint(condition=Q(number__gte=1), name="version_number_from_1"),
            models.CheckConstraint(
                condition=(Q(kind="link") & ~Q(url="") & Q(file="")) | (~Q(kind="link") & Q(url="") & ~Q(file="")),
                name="version_is_a_link_or_a_file",
            ),
            models.CheckConstraint(condition=Q(sha256__regex=r"^[0-9a-f]{64}$"), name="version_sha256_is_hex"),
        ]

    def __str__(self) -> str:
        return f"{self.artifact} v{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableError("artifact versions are immutable; upload a new version instead")
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return f"{self.artifact.get_absolute_url()}#v{self.number}"

    def get_download_url(self) -> str:
        return reverse("portfolio:version-download", args=[self.artifact_id, self.number])

    @cached_property
    def notes_html(self) -> SafeString:
        return render_markdown(self.notes)

    @property
    def is_link(self) -> bool:
        return self.kind == self.Kind.LINK

    @staticmethod
    def store(sha256: str, data: bytes) -> tuple[str, str | None]:
        """Write content by its hash; returns (storage name, the name if this call created it)."""
        name = f"artifacts/{sha256[:2]}/{sha256}"
        if default_storage.exists(name):
            return name, None
        saved = default_storage.save(name, ContentFile(data))
        return saved, saved

    def deployed_grader(self) -> tuple[str, str] | None:
        """The grader (name, version) deployed now for this version: its spec kind's code grader
        (settings.RUNNER_CODE_GRADERS) when the upload is code, else the kind's grader; None when
        the spec does not run."""
        spec = self.artifact.spec
        if spec is None or not spec.is_runnable:
            return None
        code = settings.RUNNER_CODE_GRADERS.get(spec.kind)
        if code is not None and self.holds_code:
            return code
        return settings.RUNNER_GRADERS.get(spec.kind)

    @cached_property
    def holds_code(self) -> bool:
        """Whether the upload is Python: a .py file, or a zip with a .py file in it."""
        name = self.original_filename.lower()
        if self.is_link or not self.file:
            return False
        if name.endswith(".py"):
            return True
        if not name.endswith(".zip"):
            return False
        try:
            with zipfile.ZipFile(io.BytesIO(self.read_bytes())) as archive:
                return any(member.lower().endswith(".py") for member in archive.namelist())
        except (OSError, zipfile.BadZipFile):
            return False

    def read_bytes(self) -> bytes:
        with default_storage.open(self.file.name, "rb") as f:
            return f.read()

    def request_run(self, *, by: User) -> Run:
        """Queue a verification of this version; RunRefused says why not."""
        spec = self.artifact.spec
        if spec is None or not spec.is_runnable:
            raise RunRefused(
                "Only versions of a runnable spec (a KV cache calculator, an inference benchmark or a tiny transformer) run."
            )
        grader = self.deployed_grader()
        if grader is None:
            raise RunRefused(f"No grader is configured for {spec.get_kind_display()} on this site yet.")
        if self.is_link:
            raise RunRefused("A link cannot be run: upload the file or a zip of the code to have it verified.")
        limit = settings.RUNNER_MAX_QUEUED_PER_USER
        if Run.objects.filter(requested_by=by).active().count() >= limit:
            raise RunRefused(
                f"You already have {limit} run{'s' if limit != 1 else ''} queued or running, the most allowed at once. "
                f"Version {self.number} is saved; run it when one of them finishes (or cancel one)."
            )
        started = RUN_SUBMISSIONS.hit(by.pk)
        if started.blocked:
            raise RunRefused(
                f"You have started {started.limit} runs in the last {started.period_text}, the most allowed. "
                f"Version {self.number} is saved; run it {started.retry_after_text}.",
                retry_after=started.retry_after,
            )
        return self._start_run(grader, by=by)

    def regrade(self, *, by: User | None = None) -> Run:
        """Run this version again on the grader deployed now, for a gate whose verdict came from an
        older one (`manage.py regrade`, the staff action). Not the learner's doing, so their queue
        and rate limits do not apply; RunRefused when the spec has no grader any more."""
        grader = self.deployed_grader()
        if grader is None or self.is_link:
            raise RunRefused(f"Version {self.number} of {self.artifact.title} has no grader to run it on this site.")
        return self._start_run(grader, by=by)

    def current_grader_run(self) -> Run | None:
        """The newest run of this version by the grader deployed now, finished or not."""
        grader = self.deployed_grader()
        if grader is None:
            return None
        return self.runs.filter(grader=grader[0], grader_version=grader[1]).order_by("-created_at", "-pk").first()

    def _start_run(self, grader: tuple[str, str], *, by: User | None) -> Run:
        name, version = grader
        with transaction.atomic():
            run = Run.objects.create(
                version=self,
                grader=name,
                grader_version=version,
                limits=dict(settings.RUNNER_LIMITS),
                requested_by=by,
            )
            run.start_attempt(1)
        return run


# --- results uploaded by the learner ---------------------------------------------------------


class ResultUploadQuerySet(models.QuerySet["ResultUpload"]):
    def of(self, user: User) -> ResultUploadQuerySet:
        """Results uploaded to the user's own artifacts (Artifact.objects.of)."""
        return self.filter(artifact__in=Artifact.objects.of(user))

    def visible_to(self, user: User) -> ResultUploadQuerySet:
        """Results of the artifacts the user may read (Artifact.objects.visible_to)."""
        return self.filter(artifact__in=Artifact.objects.visible_to(user))


class ResultUpload(models.Model):
    """Numbers the learner measured elsewhere: stored as self-reported, never as verified.

    `validation` summarises the schema check (which schema, what was checked, notes) and
    `recomputation` holds metrics recomputed from raw per-request arrays compared with the
    claimed ones, where the schema supports it (portfolio/results.py).
    """

    artifact = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="result_uploads")
    version = models.ForeignKey(
        ArtifactVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="result_uploads"
    )
    document = models.JSONField()
    schema = models.CharField(max_length=64)
    schema_version = models.CharField(max_length=16)
    sha256 = models.CharField(max_length=64, help_text="Of the document as canonical JSON.")
    validation = models.JSONField(default=dict, blank=True)
    recomputation = models.JSONField(default=dict, blank=True)
    notes = models.TextField(blank=True, help_text="Markdown.")
    created_at = models.DateTimeField(default=timezone.now)

    objects = ResultUploadQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Results for {self.artifact} ({self.created_at:%Y-%m-%d})"

    def get_absolute_url(self) -> str:
        return reverse("portfolio:result-detail", args=[self.pk])

    @cached_property
    def notes_html(self) -> SafeString:
        return render_markdown(self.notes)

    @property
    def flagged(self) -> list[dict[str, Any]]:
        return list(self.recomputation.get("flagged", []))

    @property
    def workload(self) -> dict[str, Any]:
        """The workload the numbers were measured on; empty for schemas without one (generic, reasoning eval)."""
        document = self.document if isinstance(self.document, dict) else {}
        return self.validation.get("workload") or document.get("workload") or {}
