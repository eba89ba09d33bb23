from __future__ import annotations

import json

from django.test import TestCase
from django.urls import reverse

from assessments.models import AuditEvent, GateEvidence, GateRequest, Review
from tests.assessments.gates import GateWorld
from tests.factories import (
    create_artifact,
    create_gate_request,
    create_run,
    create_token,
    create_version,
    finish_run,
)


class GateApiTests(GateWorld, TestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.learner_token = create_token(user=cls.learner)[1]
        cls.reviewer_token = create_token(user=cls.reviewer)[1]

    def api(self, method: str, url: str, token: str, body: dict | None = None):
        headers = {"Authorization": f"Bearer {token}"}
        if method == "get":
            return self.client.get(f"/api/v1{url}", headers=headers)
        return self.client.post(
            f"/api/v1{url}", json.dumps(body or {}), content_type="application/json", headers=headers
        )

    def test_the_whole_loop_through_the_api(self):
        response = self.api(
            "post",
            "/gates/llm/kv-cache/requests",
            self.learner_token,
            {"explanation": "Matches MHA.", "ticks": [0], "evidence": [{"artifact": self.artifact.pk, "version": 1}]},
        )
        assert response.status_code == 201, response.content
        created = response.json()
        assert created["status"] == "submitted" and created["gaps"] == []
        assert created["evidence"][0]["sha256"] == self.version.sha256
        assert created["criteria"] == [
            {"criterion": "explains the mechanism", "ticked": True},
            {"criterion": "measured it", "ticked": False},
        ]

        inbox = self.api("get", "/reviews/pending", self.reviewer_token).json()
        assert [(i["id"], i["learner"], i["layer"], i["runs_verified"], i["runs_required"]) for i in inbox] == [
            (created["id"], "lena", "kv-cache", 1, 1)
        ]

        decided = self.api(
            "post",
            f"/gate-requests/{created['id']}/decision",
            self.reviewer_token,
            {"decision": "changes_requested", "comment": "Measure GQA.", "marks": ["met", "not_met"]},
        )
        assert decided.status_code == 200 and decided.json()["request"]["status"] == "changes_requested"

        v2 = create_version(artifact=self.artifact, data=b"print('gqa')\n", filename="kv.py")
        finish_run(create_run(version=v2))
        resubmitted = self.api(
            "post",
            "/gates/llm/kv-cache/requests",
            self.learner_token,
            {"explanation": "Now GQA too.", "ticks": [0, 1], "evidence": [{"artifact": self.artifact.pk}]},
        )
        assert resubmitted.status_code == 200 and resubmitted.json()["id"] == created["id"]
        assert resubmitted.json()["evidence"][0]["sha256"] == v2.sha256  # the newest version when none is named

        approved = self.api(
            "post",
            f"/gate-requests/{created['id']}/decision",
            self.reviewer_token,
            {"decision": "approve", "marks": ["met", "met"]},
        )
        assert approved.status_code == 200 and approved.json()["request"]["status"] == "approved"
        assert list(GateRequest.objects.of(self.learner).verified_levels()) == [
            (self.learner.pk, self.layer.pk, 1, False)
        ]
        assert list(AuditEvent.objects.filter(request_id=created["id"]).values_list("action", flat=True)) == [
            "created",
            "submitted",
            "review_started",
            "changes_requested",
            "resubmitted",
            "review_started",
            "approved",
        ]
        assert self.api("get", "/reviews/pending", self.reviewer_token).json() == []

    def test_errors_name_the_field(self):
        bad_artifact = self.api(
            "post",
            "/gates/llm/kv-cache/requests",
            self.learner_token,
            {"explanation": "x", "evidence": [{"artifact": 999}]},
        )
        assert bad_artifact.status_code == 422
        assert bad_artifact.json()["errors"] == [
            {"field": "evidence.0.artifact", "message": "you have no artifact 999"}
        ]
        assert not GateRequest.objects.filter(learner=self.learner).exists()  # a refused request leaves no draft

        no_version = self.api(
            "post",
            "/gates/llm/kv-cache/requests",
            self.learner_token,
            {"explanation": "x", "evidence": [{"artifact": self.artifact.pk, "version": 7}]},
        )
        assert no_version.json()["errors"][0]["field"] == "evidence.0.version"

        no_explanation = self.api("post", "/gates/llm/kv-cache/requests", self.learner_token, {})
        assert no_explanation.status_code == 422 and no_explanation.json()["errors"][0]["field"] == "explanation"

        ticks = self.api("post", "/gates/llm/kv-cache/requests", self.learner_token, {"explanation": "x", "ticks": [5]})
        assert ticks.json()["errors"][0]["field"] == "ticks"

        unknown = self.api("post", "/gates/llm/nope/requests", self.learner_token, {"explanation": "x"})
        assert unknown.status_code == 404 and "nope" in unknown.json()["message"]

    def test_a_refused_request_leaves_no_draft_no_evidence_and_no_audit_event(self):
        other_artifact = create_artifact(owner=self.other_learner)
        refusals = [
            ({"explanation": "x", "evidence": [{"artifact": other_artifact.pk}]}, "evidence.0.artifact"),
            ({"explanation": "x", "evidence": [{"artifact": self.artifact.pk, "version": 9}]}, "evidence.0.version"),
            ({"explanation": "x", "evidence": [{"artifact": self.artifact.pk}], "results": [999]}, "results.0"),
            ({"explanation": "x", "ticks": [0, 2]}, "ticks"),
            ({"evidence": [{"artifact": self.artifact.pk}], "ticks": [0]}, "explanation"),  # pinned, then refused
        ]
        for body, field in refusals:
            with self.subTest(field=field):
                response = self.api("post", "/gates/llm/kv-cache/requests", self.learner_token, body)
                assert response.status_code == 422 and response.json()["errors"][0]["field"] == field
                assert not GateRequest.objects.exists()
                assert not GateEvidence.objects.exists() and not AuditEvent.objects.exists()

    def test_a_refused_update_leaves_the_draft_as_it_was(self):
        draft = create_gate_request(learner=self.learner, gate=self.gate, versions=(self.version,))
        before = (draft.explanation, draft.checklist, list(draft.evidence.values_list("version_id", flat=True)))
        events = AuditEvent.objects.count()

        response = self.api(
            "post",
            "/gates/llm/kv-cache/requests",
            self.learner_token,
            {"explanation": "Rewritten.", "ticks": [], "evidence": [{"artifact": 999}]},
        )

        assert response.status_code == 422
        draft.refresh_from_db()
        after = (draft.explanation, draft.checklist, list(draft.evidence.values_list("version_id", flat=True)))
        assert after == before and draft.status == "draft" and AuditEvent.objects.count() == events

    def test_a_submitted_request_is_a_409_and_stays_as_it_was(self):
        submitted = create_gate_request(learner=self.learner, gate=self.gate, versions=(self.version,), submit=True)
        response = self.api(
            "post", "/gates/llm/kv-cache/requests", self.learner_token, {"explanation": "Sneaky.", "evidence": []}
        )
        assert response.status_code == 409 and "frozen" in response.json()["message"]
        submitted.refresh_from_db()
        assert submitted.explanation == "I built it and measured it." and submitted.evidence.count() == 1

    def test_a_wrong_tick_gets_the_same_answer_from_the_page_and_the_api(self):
        draft = create_gate_request(learner=self.learner, gate=self.gate)
        api = self.api(
            "post", "/gates/llm/kv-cache/requests", self.learner_token, {"explanation": "x", "ticks": [0, 5]}
        )
        self.client.force_login(self.learner)
        page = self.client.post(
            reverse("gates:request-update", args=[draft.pk]), {"explanation": "kept text", "ticks": ["0", "5"]}
        )

        [error] = api.json()["errors"]
        assert api.status_code == 422 and error == {
            "field": "ticks",
            "message": "No criterion of this gate is numbered 5: its criteria are numbered 0 to 1.",
        }
        self.assertContains(page, error["message"], status_code=422)
        self.assertContains(page, "kept text", status_code=422)
        draft.refresh_from_db()
        assert draft.explanation == "I built it and measured it." and all(c["ticked"] for c in draft.checklist)

    def test_a_refused_decision_changes_nothing(self):
        submitted = create_gate_request(learner=self.learner, gate=self.gate, submit=True)
        events = AuditEvent.objects.count()
        url = f"/gate-requests/{submitted.pk}/decision"
        for body in ({"decision": "approve", "marks": ["met", "not_met"]}, {"decision": "changes_requested"}):
            assert self.api("post", url, self.reviewer_token, body).status_code == 422
        submitted.refresh_from_db()
        assert submitted.status == "submitted" and submitted.reviewer is None
        assert not Review.objects.exists() and AuditEvent.objects.count() == events

    def test_decision_errors_name_the_field(self):
        body = {"explanation": "x", "evidence": [{"artifact": self.artifact.pk}]}
        r = self.api("post", "/gates/llm/kv-cache/requests", self.learner_token, body).json()
        url = f"/gate-requests/{r['id']}/decision"
        not_met = self.api("post", url, self.reviewer_token, {"decision": "approve", "marks": ["met", "not_met"]})
        assert not_met.status_code == 422 and not_met.json()["errors"][0]["field"] == "marks"
        no_comment = self.api("post", url, self.reviewer_token, {"decision": "changes_requested"})
        assert no_comment.status_code == 422 and no_comment.json()["errors"][0]["field"] == "comment"
        wrong = self.api("post", url, self.reviewer_token, {"decision": "maybe"})
        assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "decision"
        self.api("post", url, self.reviewer_token, {"decision": "approve", "marks": ["met", "met"]})
        again = self.api("post", url, self.reviewer_token, {"decision": "approve", "marks": ["met", "met"]})
        assert again.status_code == 409 and "approved" in again.json()["message"]

    def test_a_reviewer_cannot_decide_their_own_request_through_the_api(self):
        mine = self.api("post", "/gates/llm/kv-cache/requests", self.reviewer_token, {"explanation": "me"}).json()
        refused = self.api(
            "post",
            f"/gate-requests/{mine['id']}/decision",
            self.reviewer_token,
            {"decision": "approve", "marks": ["met", "met"]},
        )
        assert refused.status_code == 403
        assert refused.json()["message"] == (
            "status: Nobody signs off their own gate: a reviewer or lead of your team decides it."
        )

    def test_the_openapi_schema_lists_the_gate_endpoints(self):
        paths = self.client.get("/api/v1/openapi.json").json()["paths"]
        for path in (
            "/api/v1/gates/{roadmap}/{layer}/requests",
            "/api/v1/reviews/pending",
            "/api/v1/gate-requests/{request_id}/decision",
        ):
            assert path in paths
