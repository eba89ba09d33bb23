"""Regrading through the real pipeline (tests/portfolio/workers.py): a gate approved on a run of an
older grader version; the deployed grader is bumped; `manage.py regrade` re-runs the pinned version
through the broker, the runner worker and its sandbox; the Django worker files the result and,
because the submission no longer passes, flags the gate and notifies the learner and the reviewers.
"""

from __future__ import annotations

import os
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from accounts.models import Membership, Notification
from assessments.models import AuditEvent, GateEvidence, GateRequest
from portfolio.models import Run
from portfolio.uploads import inspect_file
from tests.assessments.gates import FlushableAuditMixin
from tests.factories import create_gate, create_gate_request, create_layer, create_level, create_team, create_user
from tests.portfolio.workers import RealWorkersTestCase

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

# What the runners deploy: the `script` grader, version 1 (the runner's own). Before the bump the
# site called version 0 current; a run of it is made as a row below, since no runner has version 0.
DEPLOYED = {"kv_calculator": ("script", "1")}
BEFORE = {"kv_calculator": ("script", "0")}
NO_LONGER_PASSES = b'import json\nprint(json.dumps({"ok": False, "answer": 41}))\n'


@override_settings(RUNNER_GRADERS=DEPLOYED)
class RegradeThroughTheWorkersTests(FlushableAuditMixin, RealWorkersTestCase):
    redis_db = 12

    @classmethod
    def setUpClass(cls) -> None:
        # The Django worker reads its settings from the environment: it must deploy what this test does.
        cls._graders_env = os.environ.get("RUNNER_GRADERS")
        os.environ["RUNNER_GRADERS"] = "kv_calculator=script:1"
        try:
            super().setUpClass()
        finally:
            if cls._graders_env is None:
                del os.environ["RUNNER_GRADERS"]
            else:
                os.environ["RUNNER_GRADERS"] = cls._graders_env

    def test_regrade_reruns_the_pinned_version_on_the_real_worker_and_flags_the_gate(self):
        reviewer = create_user(username="rita")
        create_team(members={self.owner: Membership.Role.MEMBER, reviewer: Membership.Role.REVIEWER})
        layer = create_layer(number=7, slug="kv-cache")
        gate = create_gate(layer=layer, level=create_level(roadmap=layer.roadmap), artifacts=(self.artifact.spec,))
        version = self.artifact.add_version(inspect_file("main.py", NO_LONGER_PASSES), by=self.owner, run=False).version
        now = timezone.now()
        with override_settings(RUNNER_GRADERS=BEFORE):
            # The verdict grader 0 gave, stored as the pipeline stores one (status, verdict, sandbox).
            old = Run.objects.create(
                version=version,
                grader="script",
                grader_version="0",
                status=Run.Status.SUCCEEDED,
                verdict="passed",
                score=1.0,
                max_score=1.0,
                sandboxed=True,
                stage="finished",
                started_at=now,
                finished_at=now,
            )
            request = create_gate_request(learner=self.owner, gate=gate, versions=(version,), submit=True)
            request.approve(by=reviewer, marks=["met", "met"])
        assert request.status == "approved" and not request.attested
        assert old.is_stale  # grader 1 is deployed now
        assert [r.message for r in request.machine_evidence_gaps()][0].startswith(
            f"{self.artifact.spec.code} {self.artifact.spec.title}: run #{old.pk} of version 1 was graded by an older grader"
        )

        out = StringIO()
        call_command("regrade", stdout=out)
        new = Run.objects.exclude(pk=old.pk).get(version=version)
        assert (new.grader, new.grader_version) == ("script", "1")
        assert f"run #{new.pk}: version {version.pk} on script 1" in out.getvalue()

        self.finished(new)
        assert new.status == Run.Status.FAILED and new.sandboxed is True
        self.wait_for(
            "the gate to be flagged",
            lambda: GateRequest.objects.get(pk=request.pk).evidence_failing_since is not None,
        )
        request.refresh_from_db()
        assert request.status == "approved" and request.evidence_no_longer_passes
        assert f"run #{new.pk} of version 1 ended failed" in request.evidence_failing[0]
        assert GateEvidence.objects.get(request=request).run_id == new.pk
        assert AuditEvent.objects.get(request_id=request.pk, action="regraded").payload["passes"] is False
        told = Notification.objects.filter(kind=Notification.Kind.GATE_EVIDENCE_FAILING)
        assert sorted(told.values_list("user__username", flat=True)) == sorted([self.owner.username, "rita"])
        assert request.machine_evidence_gaps()[0].state == "not_passed"

        call_command("regrade", stdout=StringIO())  # safe to repeat: nothing new runs
        assert Run.objects.filter(version=version).count() == 2
