"""Regrading a gate request's pinned evidence when a grader changes (GateRequest inherits these
verbs; assessments/regrading.py drives them): stale evidence, the re-run, the flag, and the
reviewer's answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from accounts.models import Notification, User
from assessments.models.records import (
    AuditEvent,
    GateEvidence,
    Review,
    requirement_message,
)
from assessments.models.states import (
    AWAITING_REVIEW,
    SIGNED_OFF,
    UNFLAGGED,
    GateError,
    GateStatus,
)
from portfolio.models import Run

if TYPE_CHECKING:
    pass


class RegradeVerbs:
    """Verbs of GateRequest about regrading; they act on the request's own row."""

    def keep_approval(self, *, by: User, reason: str) -> Review:
        """A reviewer's answer to "evidence no longer passes" on an approved gate, the other being
        `reopen`: keep the approval, which from now on rests on their attestation."""
        self._require_decider(by)
        reason = reason.strip()
        if not reason:
            raise GateError(
                "Say why the approval stands although its evidence no longer passes; the reason is kept "
                "in the gate's history and shown with the gate.",
                field="reason",
            )
        self.refresh_from_db()
        if not self.evidence_no_longer_passes:
            raise GateError("Nothing to keep: no regrade has flagged this gate's evidence.")
        with transaction.atomic():
            evidence = self.evidence_snapshot()
            review = Review.objects.create(
                request=self,
                reviewer=by,
                decision=Review.Decision.APPROVE,
                comment=reason,
                evidence=evidence,
                attestation_reason=reason,
                attested_gaps=self.evidence_failing,
            )
            self._transition(
                AuditEvent.Action.APPROVAL_KEPT,
                by=by,
                to=GateStatus.APPROVED,
                allowed=SIGNED_OFF,
                fields={"attestation_reason": reason, **UNFLAGGED},
                payload={"review": review.pk, "attestation": {"reason": reason, "gaps": review.attested_gaps}},
            )
        return review

    def stale_evidence(self) -> list[GateEvidence]:
        """Pinned versions of runnable specs whose run is missing or was graded by an older grader."""
        return [
            e
            for e in self.evidence_list()
            if e.version_id and e.artifact.spec and e.artifact.spec.is_runnable and (not e.run_id or e.run_stale)
        ]

    def regrade(self, *, by: User | None = None) -> list[Run]:
        """Run each stale pinned version again on the current grader (through the normal pipeline).
        Safe to repeat: a version with a run on the current grader already is not run again; one
        that has finished is recorded at once. Returns the runs started."""
        started = []
        for e in self.stale_evidence():
            assert e.version is not None
            existing = e.version.current_grader_run()
            if existing is None:
                started.append(e.version.regrade(by=by))
            elif not existing.is_active:
                self.record_regrade(existing)
        return started

    def record_regrade(self, run: Run) -> bool:
        """A regrade `run` of a version pinned here ended. A frozen request (awaiting review or
        approved) now speaks with this run (audited); if it did not pass in the sandbox, the request
        is flagged "evidence no longer passes" and the learner and the reviewers are told. A request
        the learner can still edit shows each version's best run anyway. True when it flagged."""
        if self.status not in (*AWAITING_REVIEW, *SIGNED_OFF):
            return False
        with transaction.atomic():
            evidence = self.evidence.select_related("run", "artifact__spec").filter(version_id=run.version_id).first()
            if evidence is None or evidence.run_id == run.pk:
                return False
            before = evidence.snapshot()
            evidence.copy_run(run)
            evidence.save(update_fields=GateEvidence.RUN_FIELDS)
            passed = run.status == run.Status.SUCCEEDED and run.sandboxed is True
            spec = evidence.artifact.spec
            failing = "" if passed else requirement_message(spec, evidence)
            now = timezone.now()
            AuditEvent.objects.create(
                request_id=self.pk,
                action=AuditEvent.Action.REGRADED,
                from_status=self.status,
                to_status=self.status,
                created_at=now,
                payload={"before": before, "after": evidence.snapshot(), "passes": passed},
            )
            if passed:
                return False
            flagged = [*self.evidence_failing, failing]
            type(self).objects.filter(pk=self.pk, status=self.status).update(
                evidence_failing=flagged, evidence_failing_since=self.evidence_failing_since or now, updated_at=now
            )
            self.refresh_from_db()
            title = f"{self.learner.name}'s {self.gate.layer.label} gate: evidence no longer passes"
            Notification.notify(
                self.learner, Notification.Kind.GATE_EVIDENCE_FAILING, title, url=self.get_absolute_url(), body=failing
            )
            for user in self.deciders():
                Notification.notify(
                    user, Notification.Kind.GATE_EVIDENCE_FAILING, title, url=self.get_review_url(), body=failing
                )
        return True
