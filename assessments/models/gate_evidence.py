"""The evidence side of a gate request (GateRequest inherits these verbs): pinning versions and
results, what the gate requires of them, and what the runs say."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db import transaction

from accounts.models import User
from assessments.models.records import (
    GateEvidence,
    Requirement,
    Review,
    best_runs,
    requirement_state,
)
from assessments.models.states import (
    NotAllowed,
)
from portfolio.models import ArtifactVersion, ResultUpload
from roadmap.models import ArtifactSpec

if TYPE_CHECKING:
    pass


class EvidenceVerbs:
    """Verbs of GateRequest about its pinned evidence; they act on the request's own row."""

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

    def replace_evidence(
        self, *, by: User, versions: Iterable[ArtifactVersion] = (), results: Iterable[ResultUpload] = ()
    ) -> None:
        """Pin exactly these versions and results uploads, unpinning the rest, all or nothing."""
        self._require_learner(by, "change the evidence of")
        with transaction.atomic():
            self._touch_editable()
            self.evidence.all().delete()
            for version in versions:
                self.pin(version, by=by)
            for upload in results:
                self.pin_result(upload, by=by)

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
            found.append(Requirement(spec, pinned, requirement_state(spec, pinned)))
        return found

    def machine_evidence_gaps(self, evidence: list[GateEvidence] | None = None) -> list[Requirement]:
        """The required runnable specs without a pinned version whose run passed, sandboxed, on the
        grader deployed now. Approval is refused while there are any, unless attested."""
        return [r for r in self.requirements(evidence) if r.blocks_approval]

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
