"""What a gate request leaves behind: its pinned evidence (and how it answers each required
spec), the reviews decided on it, and the append-only audit trail. The credentials issued for
approved gates are in credentials.py."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from assessments.models.states import AuditImmutable, GateStatus
from portfolio.models import Artifact, ArtifactVersion, ResultUpload, Run
from roadmap.markdown import render_markdown
from roadmap.models import ArtifactSpec

if TYPE_CHECKING:
    from django.utils.safestring import SafeString


def best_runs(version_ids: Iterable[int]) -> dict[int, Run]:
    """{version pk: the run that best speaks for it}: the current grader's word first (a passing
    sandboxed run of it, else its newest run), then an older grader's (passing sandboxed, passing,
    newest). One query."""
    best: dict[int, Run] = {}
    ids = [pk for pk in version_ids if pk]
    if not ids:
        return best

    def rank(run: Run) -> tuple[bool, bool, bool, int]:
        passed = run.status == Run.Status.SUCCEEDED
        return (run.graded_by_current_grader, passed and run.sandboxed is True, passed, run.pk)

    for run in Run.objects.filter(version_id__in=ids).defer("raw", "log_tail", "tests"):
        if run.version_id not in best or rank(run) > rank(best[run.version_id]):
            best[run.version_id] = run
    return best


@dataclass(frozen=True)
class Requirement:
    """One artifact the gate requires, and how the request's evidence answers it."""

    spec: ArtifactSpec
    evidence: GateEvidence | None
    state: str  # ok | missing | no_run | running | not_passed | unsandboxed | stale

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
            "needs_code": f"{name}: {run} of {version} graded an upload that is not your code; this gate needs a "
            f"passing run of your own {_code_file(self.spec)}. Upload it as a new version and run it.",
            "unsandboxed": f"{name}: {run} of {version} passed but ran without the sandbox, so it is not verified.",
            "stale": f"{name}: {run} of {version} was graded by an older grader ({_grader(e.run)}; "
            f"{_grader(self.spec)} is deployed now); a passing run on the current grader is required.",
        }[self.state]

    @property
    def blocks_approval(self) -> bool:
        """A runnable spec without a passing run on the current grader: approving needs an attestation."""
        return self.spec.is_runnable and not self.ok


def _code_file(spec: ArtifactSpec) -> str:
    grader = settings.RUNNER_CODE_GRADERS.get(spec.kind)
    return {"bench_client": "benchmark client (bench_client.py)"}.get(grader[0] if grader else "", "code")


def _grader(of: Run | ArtifactSpec | None) -> str:
    """A run's grader, or the one deployed now for a spec, as "name version"."""
    if isinstance(of, Run):
        return f"{of.grader} {of.grader_version}"
    grader = settings.RUNNER_GRADERS.get(of.kind) if of is not None else None
    return f"{grader[0]} {grader[1]}" if grader else "no grader"


def requirement_message(spec: ArtifactSpec, pinned: GateEvidence | None) -> str:
    """How `pinned` answers `spec`, in words (Requirement.message)."""
    return Requirement(spec, pinned, requirement_state(spec, pinned)).message


def requirement_state(spec: ArtifactSpec, pinned: GateEvidence | None) -> str:
    if pinned is None:
        return "missing"
    if not spec.is_runnable:
        return "ok"
    if not pinned.run_id:
        return "no_run"
    if pinned.run_is_active:
        return "running"
    if pinned.run_stale:
        return "stale"
    if pinned.needs_code:
        return "needs_code"
    if not pinned.run_succeeded:
        return "not_passed"
    return "ok" if pinned.run_sandboxed is True else "unsandboxed"


class GateEvidence(models.Model):
    """One pinned piece of evidence: an artifact version (by hash, with the run that speaks for
    it, copied when pinned and again at submission) or a results upload (by hash)."""

    RUN_FIELDS = ("run", "run_status", "run_verdict", "run_score", "run_max_score", "run_sandboxed")

    request = models.ForeignKey("assessments.GateRequest", on_delete=models.CASCADE, related_name="evidence")
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
    def run_is_active(self) -> bool:
        return self.run_status in Run.ACTIVE

    @property
    def run_succeeded(self) -> bool:
        return self.run_status == Run.Status.SUCCEEDED

    @property
    def run_stale(self) -> bool:
        """The run's verdict came from a grader that is no longer deployed (Run.is_stale)."""
        return self.run is not None and not self.run_is_active and not self.run.graded_by_current_grader

    @property
    def verdict_state(self) -> str:
        """passed | failed | running | stale for the pinned run (Run.verdict_state, from what was
        copied when pinned); empty without a run."""
        if not self.run_id:
            return ""
        if self.run_is_active:
            return "running"
        if self.run_stale:
            return "stale"
        return "passed" if self.run_succeeded else "failed"

    @property
    def passed_verified(self) -> bool:
        """Passed, in the sandbox, on the grader deployed now: machine evidence."""
        return self.run_succeeded and self.run_sandboxed is True and not self.run_stale and not self.needs_code

    @property
    def needs_code(self) -> bool:
        """The spec takes code (settings.RUNNER_CODE_GRADERS: 07's benchmark client) and the pinned
        run graded something else (07's workload JSON): only a run of the code is machine evidence."""
        spec = self.artifact.spec
        code = settings.RUNNER_CODE_GRADERS.get(spec.kind) if spec is not None else None
        return code is not None and self.run is not None and self.run.grader != code[0]

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
            "run_grader": self.run.grader if self.run else None,
            "run_grader_version": self.run.grader_version if self.run else None,
            "result": self.result_id,
            "result_sha256": self.result_sha256 or None,
        }


class Review(models.Model):
    """A decision on a request, with the evidence (by hash) it was made on. Never changed."""

    class Decision(models.TextChoices):
        APPROVE = "approve", "Approved"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"

    request = models.ForeignKey("assessments.GateRequest", on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="gate_reviews")
    decision = models.CharField(max_length=20, choices=Decision.choices)
    comment = models.TextField(blank=True, help_text="Markdown.")
    marks = models.JSONField(
        default=list, blank=True, help_text='[{"criterion": text, "mark": "met" | "not_met" | ""}]'
    )
    evidence = models.JSONField(default=list, blank=True, help_text="The evidence decided on, as pinned.")
    attestation_reason = models.TextField(
        blank=True,
        help_text="Set when the reviewer approved without machine evidence (or kept an approval whose "
        "evidence no longer passes): why they vouch for it.",
    )
    attested_gaps = models.JSONField(
        default=list, blank=True, help_text="What the machine evidence lacked when it was attested."
    )
    quote = models.JSONField(
        default=dict,
        blank=True,
        help_text='The reply of the request\'s thread the decision answers, as it was: {"reply", "author", "at", "body"}.',
    )
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

    @cached_property
    def quote_html(self) -> SafeString:
        return render_markdown(self.quote.get("body", ""))

    @property
    def is_approval(self) -> bool:
        return self.decision == self.Decision.APPROVE

    @property
    def attested(self) -> bool:
        return bool(self.attestation_reason)


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise AuditImmutable("audit events are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditImmutable("audit events are append-only")

    def replies(self) -> AuditEventQuerySet:
        """The conversation on requests: each reply is an audit event (GateRequest.reply), oldest first."""
        return self.filter(action=AuditEvent.Action.REPLIED).select_related("actor").order_by("created_at", "pk")

    def of_gate(self, learner_id: int, gate_id: int) -> AuditEventQuerySet:
        """The history of one learner's requests for one gate, oldest first."""
        return (
            self.filter(request__learner_id=learner_id, request__gate_id=gate_id)
            .select_related("actor")
            .order_by("created_at", "pk")
        )


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
        REGRADED = "regraded", "Regraded the evidence"
        APPROVAL_KEPT = "approval_kept", "Kept the approval by attestation"
        REPLIED = "replied", "Replied"

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
                "regraded": "regrade",
                "approval_kept": "keep the approval of",
                "replied": "reply to",
            }[self.value]

    request = models.ForeignKey(
        "assessments.GateRequest", on_delete=models.DO_NOTHING, db_constraint=False, related_name="events"
    )
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
    def is_reply(self) -> bool:
        return self.action == AuditEvent.Action.REPLIED

    @cached_property
    def body_html(self) -> SafeString:
        """A reply's Markdown, sanitised."""
        return render_markdown(self.payload.get("body", ""))

    @property
    def evidence_hashes(self) -> list[str]:
        return [e["sha256"] or e["result_sha256"] for e in self.payload.get("evidence", []) if e]
