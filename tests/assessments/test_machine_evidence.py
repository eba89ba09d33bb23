"""Verified means verified (issue 12): approval needs a passing run on the current grader for each
required runnable artifact, or a reviewer's written attestation, which is labelled wherever the
gate shows; runs of an older grader are stale; `regrade` re-runs pinned evidence and flags gates
whose evidence no longer passes; the gate form's Submit saves what is on it."""

from __future__ import annotations

import json
from io import StringIO

from django.core.management import call_command
from django.test import TestCase, override_settings
from django.urls import reverse

from accounts.models import Notification
from assessments.models import AuditEvent, Credential, GateError, GateEvidence, GateRequest, Review
from assessments.regrading import regrade
from portfolio.models import Run
from tests.assessments.gates import GateWorld
from tests.factories import (
    create_gate_request,
    create_run,
    create_token,
    create_version,
    finish_run,
)

MARKS = ["met", "met"]
NEXT_GRADER = {"kv_calculator": ("kv_calculator", "2"), "inference_benchmark": ("inference_benchmark", "1")}


class ApprovalNeedsMachineEvidenceTests(GateWorld, TestCase):
    def submitted(self, *versions):
        return create_gate_request(learner=self.learner, gate=self.gate, versions=versions, submit=True)

    def refusal(self, request: GateRequest) -> str:
        with self.assertRaises(GateError) as caught:
            request.approve(by=self.reviewer, marks=MARKS)
        assert caught.exception.field == "evidence"
        request.refresh_from_db()
        assert request.status == "submitted" and not Review.objects.filter(request=request).exists()
        return caught.exception.message

    def failing_version(self, verdict: str = "wrong"):
        version = create_version(artifact=self.artifact, data=b"print('v2')\n", filename="kv.py")
        finish_run(create_run(version=version), verdict=verdict)
        return version

    def test_no_version_pinned_is_refused_naming_the_spec(self):
        message = self.refusal(self.submitted())
        assert "09 KV Cache Calculator: no version pinned" in message

    def test_a_failed_run_is_refused_naming_the_spec_and_the_verdict(self):
        message = self.refusal(self.submitted(self.failing_version()))
        assert "09 KV Cache Calculator: run #" in message and "ended failed (wrong)" in message

    def test_a_pending_run_is_refused(self):
        version = create_version(artifact=self.artifact, data=b"print('v3')\n", filename="kv.py")
        create_run(version=version)
        assert "has not finished yet" in self.refusal(self.submitted(version))

    def test_a_run_of_an_older_grader_is_refused_as_stale(self):
        request = self.submitted(self.version)
        with override_settings(RUNNER_GRADERS=NEXT_GRADER):
            message = self.refusal(request)
        assert "09 KV Cache Calculator" in message
        assert "graded by an older grader (kv_calculator 1; kv_calculator 2 is deployed now)" in message

    def test_an_unsandboxed_pass_is_no_machine_evidence(self):
        version = create_version(artifact=self.artifact, data=b"print('v4')\n", filename="kv.py")
        finish_run(create_run(version=version), sandboxed=False)
        assert "ran without the sandbox" in self.refusal(self.submitted(version))

    def test_a_passing_run_on_the_current_grader_approves_without_attestation(self):
        request = self.submitted(self.version)
        review = request.approve(by=self.reviewer, marks=MARKS)
        assert request.status == "approved" and not request.attested and not review.attested
        assert list(GateRequest.objects.of(self.learner).verified_levels()) == [
            (self.learner.pk, self.layer.pk, 1, False)
        ]

    def test_an_attestation_approves_and_is_kept_on_the_request_its_review_and_the_audit_trail(self):
        request = self.submitted(self.failing_version())
        review = request.approve(by=self.reviewer, marks=MARKS, attest_reason="  I watched it pass on my GPU.  ")
        request.refresh_from_db()
        assert request.status == "approved" and request.attested
        assert request.attestation_reason == "I watched it pass on my GPU."
        assert review.attestation_reason == "I watched it pass on my GPU." and review.attested
        assert "ended failed (wrong)" in review.attested_gaps[0]
        approved = AuditEvent.objects.get(request_id=request.pk, action="approved")
        assert approved.payload["attestation"]["reason"] == "I watched it pass on my GPU."
        assert "09 KV Cache Calculator" in approved.payload["attestation"]["gaps"][0]
        assert list(GateRequest.objects.of(self.learner).verified_levels()) == [
            (self.learner.pk, self.layer.pk, 1, True)
        ]
        verification = GateRequest.objects.of(self.learner).verifications()[self.layer.pk]
        assert verification.attested and verification.basis == "attested by the reviewer"
        assert Notification.objects.get(user=self.learner, kind="gate_decided").title.endswith("(attested)")

    def test_an_attestation_without_anything_to_attest_is_refused(self):
        request = self.submitted(self.version)
        with self.assertRaises(GateError) as caught:
            request.approve(by=self.reviewer, marks=MARKS, attest_reason="Just because.")
        assert caught.exception.field == "attest_reason"
        assert GateRequest.objects.get(pk=request.pk).status == "submitted"

    def test_reopening_an_attested_gate_clears_the_label_but_keeps_the_record(self):
        request = self.submitted(self.failing_version())
        review = request.approve(by=self.reviewer, marks=MARKS, attest_reason="Seen it.")
        request.reopen(by=self.lead, reason="Let's get a passing run after all.")
        assert request.status == "reopened" and not request.attested and request.attestation_reason == ""
        assert Review.objects.get(pk=review.pk).attestation_reason == "Seen it."


class ApprovalOnTheWebTests(GateWorld, TestCase):
    def setUp(self):
        self.failing = create_version(artifact=self.artifact, data=b"print('v2')\n", filename="kv.py")
        self.failed_run = finish_run(create_run(version=self.failing), verdict="wrong")
        self.request = create_gate_request(learner=self.learner, gate=self.gate, versions=(self.failing,), submit=True)
        self.client.force_login(self.reviewer)

    def decide(self, **extra):
        data = {"decision": "approve", "mark_0": "met", "mark_1": "met", "comment": "Fine.", **extra}
        return self.client.post(reverse("gates:review-decide", args=[self.request.pk]), data)

    def test_the_review_page_lists_the_missing_machine_evidence_and_offers_an_attestation(self):
        response = self.client.get(self.request.get_review_url())
        self.assertContains(response, 'id="machine-gaps"')
        self.assertContains(response, "No machine evidence for 1 required run")
        self.assertContains(response, 'name="attest_reason"')
        self.assertContains(response, f'<a href="{self.failed_run.get_absolute_url()}">Run #{self.failed_run.pk}</a>')
        self.assertContains(response, '<span class="pill pill-bad">failed</span>')

    def test_approving_without_attestation_is_refused_naming_the_spec_and_keeps_what_was_typed(self):
        response = self.decide()
        assert response.status_code == 422
        self.assertContains(response, "09 KV Cache Calculator: run #", status_code=422)
        self.assertContains(response, "Fine.</textarea>", status_code=422)
        assert GateRequest.objects.get(pk=self.request.pk).status == "submitted"

    def test_approving_with_an_attestation_labels_the_gate(self):
        response = self.decide(attest_reason="I ran it with them.")
        self.assertRedirects(response, self.request.get_review_url())
        page = self.client.get(self.request.get_review_url())
        self.assertContains(page, '<span class="pill pill-attested">attested</span>')
        self.assertContains(page, "I ran it with them.")
        self.client.force_login(self.learner)
        mine = self.client.get(self.request.get_absolute_url())
        self.assertContains(mine, "Approved on attestation.")
        self.assertContains(mine, "rather than machine-verified evidence")

    def test_another_teams_reviewer_gets_404_and_the_learner_403(self):
        self.client.force_login(self.outsider)
        assert self.decide(attest_reason="x").status_code == 404
        self.client.force_login(self.learner)
        assert self.decide(attest_reason="x").status_code == 403
        assert GateRequest.objects.get(pk=self.request.pk).status == "submitted"


class AttestedEverywhereTests(GateWorld, TestCase):
    """A gate approved on attestation is labelled as such on every page that shows it."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.request = create_gate_request(learner=cls.learner, gate=cls.gate, submit=True)
        cls.request.approve(by=cls.reviewer, marks=MARKS, attest_reason="Reviewed the code line by line.")

    def test_the_dashboard_labels_the_layer_and_says_what_the_verified_level_rests_on(self):
        self.client.force_login(self.learner)
        response = self.client.get(reverse("assessments:dashboard") + "?roadmap=llm")
        (row,) = response.context["board"].layers
        assert row.verified_attested and response.context["board"].attested_layers == [self.layer]
        self.assertContains(response, "rests partly on a reviewer's attestation (Layer 7)")
        self.assertContains(
            response, 'title="Approved on the reviewer\'s attestation, not on machine-verified evidence">attested'
        )

    def test_the_layer_page_labels_the_verified_level_and_the_gate(self):
        self.client.force_login(self.learner)
        response = self.client.get(self.layer.get_absolute_url())
        self.assertContains(response, "on the reviewer's attestation, not machine-verified evidence", count=2)

    def test_the_team_matrix_marks_the_cell_and_explains_the_mark(self):
        self.client.force_login(self.lead)
        response = self.client.get(reverse("teams:team-matrix", args=[self.team.slug]) + "?roadmap=llm")
        self.assertContains(response, '<td class="cell lv-1 is-attested">V1<span class="att">*</span>')
        self.assertContains(response, "attested: approved on a reviewer's attestation, not machine-verified evidence")

    def test_the_credential_and_its_public_page_say_attested_with_the_reason(self):
        credential = self.request.issue_credential(by=self.learner)
        sign_off = credential.document["evidence"][-1]
        assert sign_off["genre"] == "Sign-off" and sign_off["attested"] is True
        assert sign_off["attestationReason"] == "Reviewed the code line by line."
        verdict = Credential.objects.verify(credential.document)
        assert verdict.is_valid, verdict
        response = self.client.get(credential.get_absolute_url())
        self.assertContains(response, "Reviewed the code line by line.")

    def test_the_api_says_attested_with_the_reason(self):
        token = create_token(user=self.learner)[1]
        response = self.client.get(
            f"/api/v1/gate-requests/{self.request.pk}", headers={"Authorization": f"Bearer {token}"}
        )
        body = response.json()
        assert body["attested"] is True and body["attestation_reason"] == "Reviewed the code line by line."
        assert body["machine_evidence_gaps"] == [
            "09 KV Cache Calculator: no version pinned. Pin a version of your KV Cache Calculator artifact."
        ]

    def test_a_machine_verified_gate_says_so_instead(self):
        other = create_gate_request(learner=self.other_learner, gate=self.gate, passing_evidence=True, submit=True)
        other.approve(by=self.reviewer, marks=MARKS)
        self.client.force_login(self.other_learner)
        response = self.client.get(reverse("assessments:dashboard") + "?roadmap=llm")
        self.assertContains(response, "On machine-verified evidence.")
        self.assertNotContains(response, "pill-attested")


class ApprovalOverTheApiTests(GateWorld, TestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.token = create_token(user=cls.reviewer)[1]

    def decide(self, request: GateRequest, body: dict):
        return self.client.post(
            f"/api/v1/gate-requests/{request.pk}/decision",
            json.dumps(body),
            content_type="application/json",
            headers={"Authorization": f"Bearer {self.token}"},
        )

    def test_a_stale_run_is_refused_naming_evidence_and_the_spec_then_an_attestation_approves(self):
        request = create_gate_request(learner=self.learner, gate=self.gate, versions=(self.version,), submit=True)
        with override_settings(RUNNER_GRADERS=NEXT_GRADER):
            refused = self.decide(request, {"decision": "approve", "marks": MARKS})
            assert refused.status_code == 422
            error = refused.json()["errors"][0]
            assert error["field"] == "evidence" and "09 KV Cache Calculator" in error["message"]
            assert "graded by an older grader" in error["message"]
            assert GateRequest.objects.get(pk=request.pk).status == "submitted"  # the refusal rolled back

            done = self.decide(request, {"decision": "approve", "marks": MARKS, "attest_reason": "Same code."})
            assert done.status_code == 200, done.content
            out = done.json()["request"]
        assert out["attested"] is True and out["attestation_reason"] == "Same code."
        assert out["evidence"][0]["run_state"] == "stale" and out["evidence"][0]["run_grader_version"] == "1"

    def test_an_attestation_with_a_request_for_changes_is_refused_by_name(self):
        request = create_gate_request(learner=self.learner, gate=self.gate, submit=True)
        response = self.decide(request, {"decision": "changes_requested", "comment": "More.", "attest_reason": "x"})
        assert response.status_code == 422 and "attest_reason" in response.json()["message"]


class VerdictsShownTests(GateWorld, TestCase):
    def test_the_evidence_picker_shows_each_versions_run_status_with_a_link(self):
        failing = create_version(artifact=self.artifact, data=b"print('v2')\n", filename="kv.py")
        failed = finish_run(create_run(version=failing), verdict="wrong")
        request = create_gate_request(learner=self.learner, gate=self.gate)
        self.client.force_login(self.learner)
        response = self.client.get(request.get_absolute_url())
        self.assertContains(response, f'<a href="{self.passing_run.get_absolute_url()}">run #{self.passing_run.pk}</a>')
        self.assertContains(response, f'<a href="{failed.get_absolute_url()}">run #{failed.pk}</a>')
        self.assertContains(response, '<span class="pill pill-ok">passed</span>')
        self.assertContains(response, '<span class="pill pill-bad">failed</span>')
        with override_settings(RUNNER_GRADERS=NEXT_GRADER):
            response = self.client.get(request.get_absolute_url())
        self.assertContains(response, 'class="pill pill-stale"')
        self.assertNotContains(response, '<span class="pill pill-ok">passed</span>')

    def test_a_run_page_says_stale_when_its_grader_is_no_longer_deployed(self):
        self.client.force_login(self.learner)
        fresh = self.client.get(self.passing_run.get_absolute_url())
        self.assertNotContains(fresh, 'id="run-stale"')
        with override_settings(RUNNER_GRADERS=NEXT_GRADER):
            stale = self.client.get(self.passing_run.get_absolute_url())
            assert Run.objects.get(pk=self.passing_run.pk).is_stale
        self.assertContains(stale, 'id="run-stale"')
        self.assertContains(stale, "Graded by kv_calculator version 1")

    def test_a_running_run_is_neither_stale_nor_passed(self):
        run = create_run(version=self.version)
        with override_settings(RUNNER_GRADERS=NEXT_GRADER):
            assert not run.is_stale and run.verdict_state == "running"
        assert self.passing_run.verdict_state == "passed"


class SubmitSavesTheFormTests(GateWorld, TestCase):
    def setUp(self):
        self.request = create_gate_request(learner=self.learner, gate=self.gate, versions=(self.version,))
        self.client.force_login(self.learner)

    def test_submit_saves_the_explanation_and_ticks_on_the_form_first(self):
        data = {"explanation": "Rewritten just now.", "ticks": ["1"]}
        response = self.client.post(reverse("gates:request-submit", args=[self.request.pk]), data)
        self.assertRedirects(response, self.request.get_absolute_url())
        self.request.refresh_from_db()
        assert self.request.status == "submitted" and self.request.explanation == "Rewritten just now."
        assert [item["ticked"] for item in self.request.checklist] == [False, True]
        submitted = AuditEvent.objects.get(request_id=self.request.pk, action="submitted")
        assert submitted.payload["ticked"] == ["measured it"]

    def test_a_refused_submit_keeps_what_was_typed(self):
        response = self.client.post(
            reverse("gates:request-submit", args=[self.request.pk]), {"explanation": "   ", "ticks": ["0"]}
        )
        assert response.status_code == 422
        self.assertContains(response, "Write your explanation first", status_code=422)
        self.request.refresh_from_db()
        assert self.request.status == "draft"
        assert [item["ticked"] for item in self.request.checklist] == [True, False]  # the ticks were saved

    def test_a_wrong_tick_is_refused_by_name_and_nothing_is_submitted(self):
        response = self.client.post(
            reverse("gates:request-submit", args=[self.request.pk]), {"explanation": "Kept.", "ticks": ["7"]}
        )
        self.assertContains(response, "No criterion of this gate is numbered 7", status_code=422)
        self.assertContains(response, "Kept.</textarea>", status_code=422)
        assert GateRequest.objects.get(pk=self.request.pk).status == "draft"

    def test_the_form_carries_submit_and_the_unsaved_changes_warning(self):
        response = self.client.get(self.request.get_absolute_url())
        self.assertContains(response, "data-warn-unsaved")
        self.assertContains(response, f'formaction="{reverse("gates:request-submit", args=[self.request.pk])}"')

    def test_someone_else_cannot_submit_it(self):
        self.client.force_login(self.outsider)
        response = self.client.post(reverse("gates:request-submit", args=[self.request.pk]), {"explanation": "x"})
        assert response.status_code == 404
        self.client.force_login(self.reviewer)
        response = self.client.post(reverse("gates:request-submit", args=[self.request.pk]), {"explanation": "x"})
        assert response.status_code == 403
        assert GateRequest.objects.get(pk=self.request.pk).explanation == "I built it and measured it."


class RegradeTests(GateWorld, TestCase):
    def setUp(self):
        self.request = create_gate_request(learner=self.learner, gate=self.gate, versions=(self.version,), submit=True)
        self.request.approve(by=self.reviewer, marks=MARKS)
        self.credential = self.request.issue_credential(by=self.learner)

    def regraded(self, verdict: str) -> Run:
        with override_settings(RUNNER_GRADERS=NEXT_GRADER):
            done = regrade()
            assert [(r.version_id, r.grader_version) for r in done.started] == [(self.version.pk, "2")]
            assert regrade().started == []  # safe to run twice: the run on the current grader exists
            return finish_run(done.started[0], verdict=verdict)

    def test_nothing_is_regraded_while_the_evidence_is_on_the_current_grader(self):
        assert regrade().started == []

    def test_a_failing_regrade_flags_the_gate_and_tells_the_learner_and_the_reviewers(self):
        run = self.regraded("wrong")
        self.request.refresh_from_db()
        assert self.request.status == "approved" and self.request.evidence_no_longer_passes
        assert "09 KV Cache Calculator" in self.request.evidence_failing[0]
        assert GateEvidence.objects.get(request=self.request, version=self.version).run_id == run.pk
        event = AuditEvent.objects.get(request_id=self.request.pk, action="regraded")
        assert event.payload["before"]["run"] == self.passing_run.pk and event.payload["after"]["run"] == run.pk
        assert event.payload["passes"] is False
        told = set(Notification.objects.filter(kind="gate_evidence_failing").values_list("user__username", flat=True))
        assert told == {"lena", "rita", "leo"}
        self.client.force_login(self.learner)
        self.assertContains(self.client.get(self.request.get_absolute_url()), "Evidence no longer passes.")
        self.assertContains(self.client.get(self.layer.get_absolute_url()), "Evidence no longer passes")
        self.client.force_login(self.reviewer)
        page = self.client.get(self.request.get_review_url())
        self.assertContains(page, "Evidence no longer passes.")
        self.assertContains(page, 'id="keep-approval"')

    def test_a_passing_regrade_updates_the_evidence_without_a_flag(self):
        run = self.regraded("passed")
        self.request.refresh_from_db()
        assert not self.request.evidence_no_longer_passes
        assert GateEvidence.objects.get(request=self.request, version=self.version).run_id == run.pk
        assert not Notification.objects.filter(kind="gate_evidence_failing").exists()
        with override_settings(RUNNER_GRADERS=NEXT_GRADER):
            assert self.request.machine_evidence_gaps() == []

    def test_a_reviewer_revokes_by_reopening_and_the_credential_is_revoked(self):
        self.regraded("wrong")
        self.client.force_login(self.reviewer)
        response = self.client.post(
            reverse("gates:request-reopen", args=[self.request.pk]), {"reason": "Fails on grader 2.", "next": "review"}
        )
        self.assertRedirects(response, self.request.get_review_url())
        self.request.refresh_from_db()
        self.credential.refresh_from_db()
        assert self.request.status == "reopened" and not self.request.evidence_no_longer_passes
        assert self.credential.revoked_at is not None and "Fails on grader 2." in self.credential.revoked_reason
        reopened = AuditEvent.objects.get(request_id=self.request.pk, action="reopened")
        assert "09 KV Cache Calculator" in reopened.payload["evidence_failing"][0]

    def test_a_reviewer_may_keep_the_approval_on_an_attestation(self):
        self.regraded("wrong")
        self.client.force_login(self.reviewer)
        url = reverse("gates:review-keep", args=[self.request.pk])
        refused = self.client.post(url, {"reason": "  "})
        self.assertContains(refused, "This field is required", status_code=422)
        response = self.client.post(url, {"reason": "The new grader's case 7 is wrong; I checked by hand."})
        self.assertRedirects(response, self.request.get_review_url())
        self.request.refresh_from_db()
        assert self.request.attested and not self.request.evidence_no_longer_passes
        assert AuditEvent.objects.filter(request_id=self.request.pk, action="approval_kept").exists()
        self.client.force_login(self.learner)
        assert self.client.post(url, {"reason": "me"}).status_code == 403

    def test_the_command_and_the_staff_action_start_the_runs(self):
        out = StringIO()
        with override_settings(RUNNER_GRADERS=NEXT_GRADER):
            call_command("regrade", stdout=out)
        assert "1 run(s) started" in out.getvalue() and "on kv_calculator 2" in out.getvalue()
        Run.objects.filter(grader_version="2").delete()
        self.staff.is_superuser = True
        self.staff.save()
        self.client.force_login(self.staff)
        with override_settings(RUNNER_GRADERS=NEXT_GRADER):
            response = self.client.post(
                reverse("admin:assessments_gaterequest_changelist"),
                {"action": "regrade_evidence", "_selected_action": [self.request.pk]},
                follow=True,
            )
        self.assertContains(response, "1 run(s) started on the current grader")
        assert Run.objects.get(grader_version="2").requested_by == self.staff


class InboxQueriesTests(GateWorld, TestCase):
    def test_the_inbox_reads_each_runs_grader_without_a_query_per_request(self):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        self.client.force_login(self.reviewer)

        def count() -> int:
            with CaptureQueriesContext(connection) as ctx:
                response = self.client.get(reverse("gates:review-list"))
            assert response.status_code == 200
            return len(ctx)

        create_gate_request(learner=self.learner, gate=self.gate, versions=(self.version,), submit=True)
        one = count()
        create_gate_request(learner=self.other_learner, gate=self.gate, passing_evidence=True, submit=True)
        assert count() == one
