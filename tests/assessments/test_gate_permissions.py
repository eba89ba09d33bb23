"""Every gate and review URL, and every gate API endpoint, for every kind of person.

Expected outcomes: "login" (sent to log in), 401 (API without a token), 404 (not visible: other
people's requests do not exist for you), 403 (visible, but not yours to do), or the success
code. Each request runs in a savepoint that is rolled back, so every cell starts from the same
state.
"""

from __future__ import annotations

import json

from django.db import transaction
from django.test import TestCase
from django.urls import reverse

from assessments.models import GateRequest
from tests.assessments.gates import GateWorld
from tests.factories import (
    create_artifact,
    create_gate,
    create_gate_request,
    create_layer,
    create_token,
    create_version,
)

PEOPLE = ("anonymous", "learner", "other_learner", "outsider", "reviewer", "lead", "staff")


def row(*codes: object) -> dict[str, object]:
    return dict(zip(PEOPLE, codes, strict=True))


class PermissionMatrixTests(GateWorld, TestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.draft = create_gate_request(learner=cls.learner, gate=cls.gate, versions=(cls.version,))
        cls.evidence = cls.draft.evidence.get()
        cls.submitted = create_gate_request(
            learner=cls.learner, gate=create_gate(layer=create_layer(roadmap=cls.roadmap)), submit=True
        )
        cls.approved = create_gate_request(
            learner=cls.learner, gate=create_gate(layer=create_layer(roadmap=cls.roadmap)), submit=True
        )
        cls.approved.approve(by=cls.reviewer, marks=["met", "met"])
        cls.credential = cls.approved.issue_credential(by=cls.learner)

    def person(self, who: str):
        return None if who == "anonymous" else getattr(self, who)

    def outcome(self, who: str, method: str, url: str, data: dict | None = None) -> object:
        with transaction.atomic():
            self.client.logout()
            if who != "anonymous":
                self.client.force_login(self.person(who))
            response = getattr(self.client, method)(url, data or {})
            transaction.set_rollback(True)
        if response.status_code == 302 and response.url.startswith(reverse("accounts:login")):
            return "login"
        return response.status_code

    def check(self, method: str, url: str, expected: dict[str, object], data: dict | None = None) -> None:
        for who, code in expected.items():
            with self.subTest(url=url, method=method, who=who):
                assert self.outcome(who, method, url, data) == code

    def test_the_learners_pages_of_a_request(self):
        for r in (self.draft, self.submitted, self.approved):
            for name in ("request-detail", "history-detail", "history-json", "history-csv"):
                self.check("get", reverse(f"gates:{name}", args=[r.pk]), row("login", 200, 404, 404, 200, 200, 200))

    def test_changing_a_draft_is_for_its_learner_only(self):
        pk = self.draft.pk
        cases = [
            ("gates:request-update", [pk], {"explanation": "new", "ticks": ["0"]}),
            ("gates:evidence-add", [pk], {"version": str(self.version.pk)}),
            ("gates:evidence-remove", [pk, self.evidence.pk], {}),
            ("gates:request-submit", [pk], {}),
            ("gates:request-withdraw", [pk], {}),
        ]
        for name, args, data in cases:
            self.check("post", reverse(name, args=args), row("login", 302, 404, 404, 403, 403, 403), data)

    def test_pinning_someone_elses_version_or_results_is_a_404_not_a_403(self):
        """A 403 would confirm that the id exists; someone else's things do not exist for this request."""
        theirs = create_version(artifact=create_artifact(owner=self.other_learner, spec=self.spec))
        their_results = theirs.artifact.add_results({"summary": "Theirs.", "metrics": {"x": 1}})
        url = reverse("gates:evidence-add", args=[self.draft.pk])
        for data in ({"version": str(theirs.pk)}, {"result": str(their_results.pk)}):
            self.check("post", url, row("login", 404, 404, 404, 404, 404, 404), data)
        assert list(self.draft.evidence.all()) == [self.evidence]

    def test_reviewing_is_for_the_reviewers_and_leads_of_the_learners_team(self):
        pk = self.submitted.pk
        self.check("get", reverse("gates:review-detail", args=[pk]), row("login", 403, 404, 404, 200, 200, 200))
        self.check("post", reverse("gates:review-start", args=[pk]), row("login", 403, 404, 404, 302, 302, 403))
        decision = {"decision": "approve", "mark_0": "met", "mark_1": "met", "comment": "Good."}
        self.check(
            "post", reverse("gates:review-decide", args=[pk]), row("login", 403, 404, 404, 302, 302, 403), decision
        )

    def test_reopening_and_sharing_an_approved_gate(self):
        pk = self.approved.pk
        self.check(
            "post",
            reverse("gates:request-reopen", args=[pk]),
            row("login", 302, 404, 404, 302, 302, 403),
            {"reason": "Found a bug."},
        )
        self.check("post", reverse("gates:credential-issue", args=[pk]), row("login", 302, 404, 404, 403, 403, 403))

    def test_lists_show_only_what_is_yours_to_see(self):
        self.check("get", reverse("gates:request-list"), row("login", 200, 200, 200, 200, 200, 200))
        self.check("get", reverse("gates:review-list"), row("login", 200, 200, 200, 200, 200, 200))
        for who in PEOPLE[1:]:
            self.client.force_login(self.person(who))
            inbox = self.client.get(reverse("gates:review-list")).context["rows"]
            assert ([r.pk for r, _ in inbox] == [self.submitted.pk]) == (who in ("reviewer", "lead")), who
            mine = self.client.get(reverse("gates:request-list")).context["requests"]
            assert (len(mine) == 3) == (who == "learner"), who

    def test_opening_a_request_from_a_layer_page_needs_an_account(self):
        url = reverse("gates:request-open", args=["llm", "kv-cache"])
        self.check("post", url, row("login", 302, 302, 302, 302, 302, 302))

    def test_credentials_are_public(self):
        for url in (
            self.credential.get_absolute_url(),
            reverse("gates:credential-keys"),
            reverse("gates:credential-verify") + f"?id={self.credential.pk}",
        ):
            self.check("get", url, row(200, 200, 200, 200, 200, 200, 200))

    def test_a_reviewer_requesting_their_own_gate_cannot_review_it(self):
        own = create_gate_request(learner=self.reviewer, gate=self.gate, submit=True)
        self.client.force_login(self.reviewer)
        response = self.client.get(reverse("gates:review-detail", args=[own.pk]))
        assert response.status_code == 403
        self.assertContains(response, "Nobody reviews their own gate", status_code=403)
        decision = {"decision": "approve", "mark_0": "met", "mark_1": "met"}
        assert self.client.post(reverse("gates:review-decide", args=[own.pk]), decision).status_code == 403
        assert GateRequest.objects.get(pk=own.pk).status == "submitted"


class ApiPermissionMatrixTests(GateWorld, TestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.submitted = create_gate_request(learner=cls.learner, gate=cls.gate, versions=(cls.version,), submit=True)
        cls.tokens = {who: create_token(user=getattr(cls, who))[1] for who in PEOPLE[1:]}

    def call(self, who: str, method: str, url: str, body: dict | None = None):
        headers = {} if who == "anonymous" else {"Authorization": f"Bearer {self.tokens[who]}"}
        with transaction.atomic():
            if method == "get":
                response = self.client.get(url, headers=headers)
            else:
                response = self.client.post(
                    url, json.dumps(body or {}), content_type="application/json", headers=headers
                )
            transaction.set_rollback(True)
        return response

    def check(self, method: str, url: str, expected: dict[str, int], body: dict | None = None) -> None:
        for who, code in expected.items():
            with self.subTest(url=url, who=who):
                response = self.call(who, method, url, body)
                assert response.status_code == code, response.content
                assert response["Content-Type"].startswith("application/json")

    def test_reading_a_request(self):
        url = f"/api/v1/gate-requests/{self.submitted.pk}"
        self.check("get", url, row(401, 200, 404, 404, 200, 200, 200))

    def test_deciding_a_request(self):
        url = f"/api/v1/gate-requests/{self.submitted.pk}/decision"
        body = {"decision": "approve", "marks": ["met", "met"], "comment": "Solid."}
        self.check("post", url, row(401, 403, 404, 404, 200, 200, 403), body)
        refused = self.call("learner", "post", url, body).json()
        assert refused["message"].startswith("status: Nobody signs off their own gate")

    def test_the_inbox(self):
        for who, code in row(401, 200, 200, 200, 200, 200, 200).items():
            response = self.call(who, "get", "/api/v1/reviews/pending")
            assert response.status_code == code
            if code == 200:
                ids = [item["id"] for item in response.json()]
                assert (ids == [self.submitted.pk]) == (who in ("reviewer", "lead")), who

    def test_requesting_sign_off_is_for_your_own_gates(self):
        url = "/api/v1/gates/llm/kv-cache/requests"
        body = {"explanation": "Mine.", "submit": False}
        self.check("post", url, row(401, 409, 201, 201, 201, 201, 201), body)  # the learner's is already submitted
