"""Gate requests: a learner asks for a layer's gate to be signed off, pins evidence, and a
reviewer of one of their teams decides; verified levels follow from approved requests."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from django.db import IntegrityError, models, transaction
from django.db.models import ExpressionWrapper, F, Prefetch, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Notification, User
from assessments.models.credentials import Credential
from assessments.models.gate_evidence import EvidenceVerbs
from assessments.models.gate_regrade import RegradeVerbs
from assessments.models.progress import KEEP
from assessments.models.records import (
    AuditEvent,
    GateEvidence,
    Review,
)
from assessments.models.states import (
    AWAITING_REVIEW,
    EDITABLE,
    MARKS,
    REPLY_MAX_LENGTH,
    REVIEW_STARTS,
    SIGNED_OFF,
    THREAD_OPEN,
    UNFLAGGED,
    WITHDRAWABLE,
    GateError,
    GateStatus,
    NotAllowed,
)
from roadmap.markdown import render_markdown
from roadmap.models import EvaluationGate

if TYPE_CHECKING:
    from django.utils.safestring import SafeString

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
        return self.filter(Q(learner_id=user.pk) | Q(learner_id__in=Membership.objects.learners_reviewed_by(user)))

    def decidable_by(self, user: User) -> GateRequestQuerySet:
        """Requests the user may decide: their teams' learners', never their own."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(learner_id__in=Membership.objects.learners_reviewed_by(user)).exclude(learner_id=user.pk)

    def awaiting_review(self) -> GateRequestQuerySet:
        return self.filter(status__in=AWAITING_REVIEW)

    def live(self) -> GateRequestQuerySet:
        """Not withdrawn: at most one per learner and gate."""
        return self.exclude(status=GateStatus.WITHDRAWN)

    def oldest_first(self) -> GateRequestQuerySet:
        return self.order_by("submitted_at", "pk")

    def awaiting_decision_by(self, user: User) -> GateRequestQuerySet:
        """The reviewer's inbox (the page and the API): requests awaiting review that `user` may
        decide, oldest first, with what `run_summary` reads of each, in three queries."""
        return (
            self.decidable_by(user)
            .awaiting_review()
            .oldest_first()
            .select_related("learner", "gate__layer__roadmap", "reviewer")
            .prefetch_related(
                Prefetch("evidence", queryset=GateEvidence.objects.select_related("artifact__spec", "run")),
                "gate__required_artifacts",
            )
        )

    # -- verified levels: derived only from these --

    def verified(self) -> GateRequestQuerySet:
        """Requests that verify a level: approved (not reopened or withdrawn since) for a gate that is
        still part of the roadmap. The one place this rule is written."""
        return self.filter(status=GateStatus.APPROVED, gate__retired=False)

    def verified_levels(self) -> QuerySet[GateRequest, tuple[int, int, int, bool]]:
        """(learner id, layer id, level, attested) of each verified request among these; level 0
        where the gate counts toward no level; attested where it rests on a reviewer's attestation
        rather than machine evidence. A layer without a row is at verified level 0. One query."""
        level = Coalesce(F("gate__level__number"), Value(0), output_field=models.IntegerField())
        attested = ExpressionWrapper(~Q(attestation_reason=""), output_field=models.BooleanField())
        return self.verified().values_list("learner_id", "gate__layer_id", level, attested)

    def verifications(self) -> dict[int, Verification]:
        """{layer pk: Verification} of the verified requests among these (one learner's). One query."""
        rows = (
            self.verified()
            .select_related("reviewer", "gate__level")
            .only(
                "gate__layer_id",
                "gate__level__number",
                "decided_at",
                "reviewer",
                "learner_id",
                "status",
                "attestation_reason",
                "evidence_failing_since",
            )
        )
        return {
            r.gate.layer_id: Verification(
                level=r.gate.level.number if r.gate.level else 0,
                reviewer=r.reviewer.name if r.reviewer else "a deleted account",
                decided_at=r.decided_at,  # type: ignore[arg-type]
                request_id=r.pk,
                attested=r.attested,
                evidence_failing=r.evidence_no_longer_passes,
            )
            for r in rows
        }

    def attested(self) -> GateRequestQuerySet:
        """Verified on a reviewer's attestation rather than on machine evidence."""
        return self.verified().exclude(attestation_reason="")

    def evidence_failing(self) -> GateRequestQuerySet:
        """Flagged by a regrade: pinned evidence no longer passes, until a reviewer decides."""
        return self.filter(evidence_failing_since__isnull=False)

    def regradable(self) -> GateRequestQuerySet:
        """Requests whose pinned evidence a regrade re-runs: open (not withdrawn) and approved ones."""
        return self.live()


@dataclass(frozen=True)
class Verification:
    """A layer whose gate the learner has approved (and not reopened)."""

    level: int  # the competency level the gate counts toward; 0 when the content gives it none
    reviewer: str
    decided_at: datetime
    request_id: int
    attested: bool = False  # approved on a reviewer's attestation, not on machine evidence
    evidence_failing: bool = False  # a regrade found the evidence no longer passes; not decided yet

    @property
    def basis(self) -> str:
        """What the level rests on, in words pages show beside it."""
        return "attested by the reviewer" if self.attested else "machine-verified evidence"


@dataclass(frozen=True)
class GateActions:
    """What one person may do to one request in its current state (GateRequest.actions_for). Pages
    and the API read this rather than comparing statuses; the verbs check the same states."""

    is_learner: bool  # whose request it is
    is_decider: bool  # a reviewer or lead of one of the learner's teams, whatever the state
    can_edit: bool  # explanation, ticks and evidence
    can_submit: bool
    can_withdraw: bool
    can_start_review: bool
    can_decide: bool
    can_reopen: bool
    can_issue_credential: bool
    can_keep_approval: bool  # an approval whose evidence a regrade found failing: keep it by attestation
    can_reply: bool = False  # write in the request's thread: the learner and the deciders, once submitted


class GateRequest(EvidenceVerbs, RegradeVerbs, models.Model):
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
    attestation_reason = models.TextField(
        blank=True,
        help_text="While approved on a reviewer's attestation instead of machine evidence: their reason "
        "(also kept on the Review and in the audit trail).",
    )
    evidence_failing = models.JSONField(
        default=list, blank=True, help_text="What a regrade found no longer passing, one message per spec."
    )
    evidence_failing_since = models.DateTimeField(
        null=True, blank=True, help_text="Set by a regrade whose run failed; cleared when a reviewer decides."
    )

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
            models.CheckConstraint(
                condition=Q(status="approved") | Q(attestation_reason=""), name="gate_request_attested_only_approved"
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
    def state(self) -> dict[str, bool]:
        """{status: whether the request is in it}, so that templates ask `request.state.in_review`
        rather than compare status strings. What a person may do is `actions_for`."""
        return {status: self.status == status for status in GateStatus.values}

    @property
    def attested(self) -> bool:
        """Approved on a reviewer's written attestation, not on machine evidence: labelled so everywhere."""
        return self.status == GateStatus.APPROVED and bool(self.attestation_reason)

    @property
    def evidence_no_longer_passes(self) -> bool:
        return self.evidence_failing_since is not None

    @property
    def ticked_count(self) -> int:
        return sum(1 for item in self.checklist if item.get("ticked"))

    # -- who --

    def is_learner(self, user: User) -> bool:
        return user.is_authenticated and user.pk == self.learner_id

    def can_be_decided_by(self, user: User) -> bool:
        """A reviewer or lead of a team the learner belongs to, now; never the learner. One query."""
        if not user.is_authenticated or user.pk == self.learner_id:
            return False
        return Membership.objects.learners_reviewed_by(user).filter(user_id=self.learner_id).exists()

    def deciders(self) -> QuerySet[User]:
        """Everyone who may decide this request: reviewers and leads of the learner's teams."""
        reviewers = Membership.objects.reviewers_of(self.learner_id)
        return User.objects.filter(is_active=True, pk__in=reviewers).exclude(pk=self.learner_id)

    def actions_for(self, user: User) -> GateActions:
        """What `user` may do to this request now: who they are (one query, none for the learner)
        combined with the states each verb starts from."""
        learner = self.is_learner(user)
        decider = self.can_be_decided_by(user)
        status = self.status
        return GateActions(
            is_learner=learner,
            is_decider=decider,
            can_edit=learner and status in EDITABLE,
            can_submit=learner and status in EDITABLE,
            can_withdraw=learner and status in WITHDRAWABLE,
            can_start_review=decider and status in REVIEW_STARTS,
            can_decide=decider and status in AWAITING_REVIEW,
            can_reopen=(learner or decider) and status in SIGNED_OFF,
            can_issue_credential=learner and status in SIGNED_OFF,
            can_keep_approval=decider and status in SIGNED_OFF and self.evidence_no_longer_passes,
            can_reply=(learner or decider) and status in THREAD_OPEN,
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
        """Change the explanation and/or which criteria the learner ticks (indexes into the
        checklist). GateError names `ticks` when one is not the index of a criterion."""
        self._require_learner(by, "edit")
        fields: dict[str, Any] = {}
        if explanation is not KEEP:
            fields["explanation"] = explanation.strip()
        with transaction.atomic():
            self._touch_editable()
            if ticks is not KEEP:
                fields["checklist"] = self._ticked(set(ticks))
            GateRequest.objects.filter(pk=self.pk).update(**fields)
        self.refresh_from_db()

    def _ticked(self, chosen: set[int]) -> list[dict[str, Any]]:
        last = len(self.checklist) - 1
        wrong = sorted(i for i in chosen if not 0 <= i <= last)
        if wrong:
            numbered = f"its criteria are numbered 0 to {last}" if last >= 0 else "it has no criteria"
            raise GateError(
                f"No criterion of this gate is numbered {', '.join(map(str, wrong))}: {numbered}.", field="ticks"
            )
        return [{**item, "ticked": i in chosen} for i, item in enumerate(self.checklist)]

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
                    **UNFLAGGED,
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
            allowed=REVIEW_STARTS,
            fields={"reviewer": by},
        )

    def approve(
        self, *, by: User, marks: Sequence[str], comment: str = "", attest_reason: str = "", quote: int | None = None
    ) -> Review:
        """Sign off: every criterion must be marked met, and every required runnable spec needs a
        pinned version that passed on the current grader (machine_evidence_gaps). Without that
        evidence only an attestation approves: `attest_reason` says why the reviewer vouches for
        it, and the gate is labelled attested wherever it shows."""
        return self._decide(
            Review.Decision.APPROVE, by=by, marks=marks, comment=comment, attest_reason=attest_reason, quote=quote
        )

    def request_changes(self, *, by: User, comment: str, marks: Sequence[str] = (), quote: int | None = None) -> Review:
        """Send it back to the learner; the comment says what to change. `quote`: a reply of the
        thread the decision answers (its id), kept with the review."""
        return self._decide(Review.Decision.CHANGES_REQUESTED, by=by, marks=marks, comment=comment, quote=quote)

    def _decide(
        self,
        decision: str,
        *,
        by: User,
        marks: Sequence[str],
        comment: str,
        attest_reason: str = "",
        quote: int | None = None,
    ) -> Review:
        self._require_decider(by)
        self.refresh_from_db()
        quoted = self.quoting(quote)
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
        attest_reason = attest_reason.strip() if approve else ""
        # A request not awaiting a decision is refused for its state (by _transition), not its evidence.
        gaps = [r.message for r in self.machine_evidence_gaps()] if approve and self.is_awaiting_review else []
        if gaps and not attest_reason:
            raise GateError(
                "Approval needs machine evidence, and this request lacks it: "
                + " ".join(gaps)
                + " Request changes, or approve anyway by writing an attestation: why you vouch for the "
                "work without that evidence (kept in the audit trail and shown with the gate).",
                field="evidence",
            )
        if attest_reason and not gaps and self.is_awaiting_review:
            raise GateError(
                "Nothing to attest: every required run passed on the current grader. Leave the attestation "
                "empty to approve on the machine evidence.",
                field="attest_reason",
            )
        with transaction.atomic():
            if self.status in REVIEW_STARTS:
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
                attestation_reason=attest_reason,
                attested_gaps=gaps,
                quote=quoted,
            )
            payload: dict[str, Any] = {"review": review.pk, "marks": review.marks, "evidence": evidence}
            if quoted:
                payload["quote"] = quoted["reply"]
            if attest_reason:
                payload["attestation"] = {"reason": attest_reason, "gaps": gaps}
            self._transition(
                AuditEvent.Action.APPROVED if approve else AuditEvent.Action.CHANGES_REQUESTED,
                by=by,
                to=GateStatus.APPROVED if approve else GateStatus.CHANGES_REQUESTED,
                allowed=[GateStatus.IN_REVIEW],
                fields={
                    "reviewer": by,
                    "decided_at": review.created_at,
                    "attestation_reason": attest_reason,
                    **UNFLAGGED,
                },
                payload=payload,
            )
            layer = self.gate.layer
            title = (
                f"{layer.label} approved by {by.name}{' (attested)' if attest_reason else ''}"
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
            allowed=WITHDRAWABLE,
            fields=UNFLAGGED,
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
                allowed=SIGNED_OFF,
                fields={"reopened_reason": reason, "reopened_at": now, "attestation_reason": "", **UNFLAGGED},
                payload={
                    "reason": reason,
                    **({"evidence_failing": self.evidence_failing} if self.evidence_failing else {}),
                },
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

    # -- the conversation (the learner and the deciders) --

    def thread(self) -> QuerySet[AuditEvent]:
        """The replies on this request, oldest first: they are audit events, so the thread is part
        of the history and exports with it."""
        return AuditEvent.objects.filter(request_id=self.pk).replies()

    def reply(self, *, by: User, body: str) -> AuditEvent:
        """Write in the request's thread (Markdown). Who may is `actions_for(by).can_reply`; a reply
        by the learner notifies the deciders, one by a decider notifies the learner."""
        if not (self.is_learner(by) or self.can_be_decided_by(by)):
            raise NotAllowed("Only the learner and the reviewers and leads of their teams can reply on this request.")
        body = body.strip()
        if not body:
            raise GateError("Write your reply first; it cannot be empty.", field="body")
        if len(body) > REPLY_MAX_LENGTH:
            raise GateError(
                f"A reply holds at most {REPLY_MAX_LENGTH:,} characters; this one has {len(body):,}. "
                "Shorten it or split it in two.",
                field="body",
            )
        with transaction.atomic():
            current = GateRequest.objects.select_for_update().filter(pk=self.pk).values_list("status", flat=True).get()
            if current not in THREAD_OPEN:
                raise GateError(
                    f"This request is {GateStatus(current).label.lower()}, so its thread is closed: "
                    "a thread opens when the request is submitted and closes when it is withdrawn."
                )
            event = AuditEvent.objects.create(
                request_id=self.pk,
                actor=by,
                action=AuditEvent.Action.REPLIED,
                from_status=current,
                to_status=current,
                payload={"body": body},
            )
            layer = self.gate.layer
            if self.is_learner(by):
                title = f"{by.name} replied on their {layer.label} request"
                for user in self.deciders():
                    Notification.notify(
                        user, Notification.Kind.GATE_REPLY, title, url=self.get_review_url(), body=body[:500]
                    )
            else:
                title = f"{by.name} replied on your {layer.label} request"
                Notification.notify(
                    self.learner, Notification.Kind.GATE_REPLY, title, url=self.get_absolute_url(), body=body[:500]
                )
        return event

    def quoting(self, reply_id: int | None) -> dict[str, Any]:
        """What a decision keeps of the reply it quotes (empty without one); GateError names
        `quote` when the id is not a reply on this request."""
        if not reply_id:
            return {}
        reply = self.thread().filter(pk=reply_id).first()
        if reply is None:
            raise GateError(f"No reply {reply_id} on this request to quote.", field="quote")
        return {
            "reply": reply.pk,
            "author": reply.actor_name,
            "at": reply.created_at.isoformat(),
            "body": reply.payload.get("body", ""),
        }

    def issue_credential(self, *, by: User) -> Credential:
        """The approved gate as a signed credential the learner can share (the same one until revoked)."""
        self._require_learner(by, "share")
        with transaction.atomic():
            current = GateRequest.objects.select_for_update().filter(pk=self.pk).values_list("status", flat=True).get()
            if current not in SIGNED_OFF:
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
                    payload={"credential": str(credential.pk), "evidence": self.evidence_snapshot()},
                )
        return credential


# --- verified levels ---------------------------------------------------------------------------
# Which requests verify a level is GateRequestQuerySet.verified; these read it.
