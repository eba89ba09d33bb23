"""The conversation on a gate request (issue 14, item 6): the learner and the deciders reply,
each reply notifies the other side, the thread is in the audit history, a decision quotes it; the
web (with and without htmx) and the API both go through GateRequest.reply."""

from __future__ import annotations

import json

from django.test import TestCase
from django.urls import reverse

from accounts.models import Notification
from assessments.models import AuditEvent, AuditImmutable, GateError, GateRequest, NotAllowed
from assessments.models.states import REPLY_MAX_LENGTH
from tests.assessments.gates import GateWorld
from tests.factories import create_gate_request, create_token


class ThreadModelTests(GateWorld, TestCase):
    def setUp(self) -> None:
        self.request = create_gate_request(learner=self.learner, gate=self.gate, submit=True)

    def test_who_may_reply_is_what_actions_for_says(self):
        expected = {
            self.learner: True,
            self.reviewer: True,
            self.lead: True,
            self.other_learner: False,
            self.outsider: False,
            self.staff: False,
        }
        for user, may in expected.items():
            with self.subTest(user=user.username):
                assert self.request.actions_for(user).can_reply is may
                if may:
                    self.request.reply(by=user, body=f"From {user.username}")
                else:
                    with self.assertRaises(NotAllowed):
                        self.request.reply(by=user, body="Let me in")
        assert [e.payload["body"] for e in self.request.thread()] == ["From lena", "From rita", "From leo"]

    def test_a_learners_reply_notifies_the_deciders_and_a_reviewers_the_learner(self):
        Notification.objects.all().delete()
        self.request.reply(by=self.learner, body="Which run do you mean?")
        told = set(
            Notification.objects.filter(kind=Notification.Kind.GATE_REPLY).values_list("user__username", flat=True)
        )
        assert told == {"rita", "leo"}
        Notification.objects.all().delete()
        self.request.reply(by=self.reviewer, body="Run #3.")
        notes = list(Notification.objects.filter(kind=Notification.Kind.GATE_REPLY))
        assert [n.user for n in notes] == [self.learner]
        assert notes[0].url == self.request.get_absolute_url()
        assert notes[0].body == "Run #3."

    def test_the_thread_is_part_of_the_gates_history(self):
        self.request.reply(by=self.learner, body="**Bold** question")
        event = AuditEvent.objects.of_gate(self.learner.pk, self.gate.pk).last()
        assert event.action == AuditEvent.Action.REPLIED
        assert event.actor == self.learner
        assert event.from_status == event.to_status == GateRequest.Status.SUBMITTED
        with self.assertRaises(AuditImmutable):
            event.save()

    def test_a_reply_is_markdown_and_sanitised(self):
        event = self.request.reply(by=self.learner, body="**bold** <script>alert(1)</script>")
        html = str(event.body_html)
        assert "<strong>bold</strong>" in html
        assert "<script" not in html

    def test_empty_or_too_long_replies_are_refused_naming_the_body(self):
        for body in ("", "   ", "x" * (REPLY_MAX_LENGTH + 1)):
            with self.subTest(length=len(body)), self.assertRaises(GateError) as refused:
                self.request.reply(by=self.learner, body=body)
            assert refused.exception.field == "body"
        assert not self.request.thread().exists()

    def test_the_thread_opens_at_submission_and_closes_at_withdrawal(self):
        draft = create_gate_request(learner=self.other_learner, gate=self.gate)
        assert not draft.actions_for(self.other_learner).can_reply
        with self.assertRaises(GateError) as refused:
            draft.reply(by=self.other_learner, body="Hello?")
        assert refused.exception.field == "status"
        self.request.withdraw(by=self.learner)
        assert not self.request.actions_for(self.learner).can_reply
        with self.assertRaises(GateError):
            self.request.reply(by=self.learner, body="Still there?")

    def test_a_decision_quotes_a_reply_of_its_own_request_only(self):
        reply = self.request.reply(by=self.learner, body="I measured it on an H100.")
        other = create_gate_request(learner=self.other_learner, gate=self.gate, submit=True)
        foreign = other.reply(by=self.other_learner, body="Mine")
        with self.assertRaises(GateError) as refused:
            self.request.request_changes(by=self.reviewer, comment="Show the log.", quote=foreign.pk)
        assert refused.exception.field == "quote"
        review = self.request.request_changes(by=self.reviewer, comment="Show the log.", quote=reply.pk)
        assert review.quote["reply"] == reply.pk
        assert review.quote["body"] == "I measured it on an H100."
        assert review.quote["author"] == "Lena Learner"
        decided = AuditEvent.objects.filter(request_id=self.request.pk, action="changes_requested").get()
        assert decided.payload["quote"] == reply.pk


class ThreadPageTests(GateWorld, TestCase):
    def setUp(self) -> None:
        self.request = create_gate_request(learner=self.learner, gate=self.gate, submit=True)
        self.url = reverse("gates:reply-create", args=[self.request.pk])

    def test_the_learner_replies_from_the_request_page_without_javascript(self):
        self.client.force_login(self.learner)
        response = self.client.post(self.url, {"body": "A *question*"})
        assert response.status_code == 302
        assert response.url == self.request.get_absolute_url() + "#gate-thread"
        page = self.client.get(self.request.get_absolute_url()).content.decode()
        assert 'id="gate-thread"' in page
        assert "<em>question</em>" in page

    def test_a_reviewer_replies_with_htmx_and_gets_the_thread_back(self):
        self.client.force_login(self.reviewer)
        response = self.client.post(self.url, {"body": "Answer", "next": "review"}, headers={"HX-Request": "true"})
        assert response.status_code == 200
        html = response.content.decode()
        assert "<html" not in html  # the fragment, not the page
        assert 'id="gate-thread"' in html
        assert "Answer" in html
        assert 'name="next" value="review"' in html

    def test_a_refused_reply_keeps_nothing_lost_and_names_the_problem(self):
        self.client.force_login(self.learner)
        long = "y" * (REPLY_MAX_LENGTH + 1)
        response = self.client.post(self.url, {"body": long})
        assert response.status_code == 422
        assert "at most" in response.content.decode()
        assert long in response.content.decode()  # what was typed is still in the form
        htmx = self.client.post(self.url, {"body": ""}, headers={"HX-Request": "true"})
        assert htmx.status_code == 200
        assert "cannot be empty" in htmx.content.decode()
        assert not self.request.thread().exists()

    def test_strangers_get_404_and_staff_403(self):
        for user, code in ((self.other_learner, 404), (self.outsider, 404), (self.staff, 403)):
            with self.subTest(user=user.username):
                self.client.force_login(user)
                assert self.client.post(self.url, {"body": "Hi"}).status_code == code
        assert not self.request.thread().exists()

    def test_the_review_page_offers_the_thread_and_a_quote(self):
        self.request.reply(by=self.learner, body="Please look at run 2")
        self.client.force_login(self.reviewer)
        page = self.client.get(self.request.get_review_url()).content.decode()
        assert "Please look at run 2" in page
        assert 'name="quote"' in page
        reply = self.request.thread().get()
        response = self.client.post(
            reverse("gates:review-decide", args=[self.request.pk]),
            {"decision": "changes_requested", "comment": "Show the log.", "quote": str(reply.pk)},
        )
        assert response.status_code == 302
        learner_page = self.client.get(self.request.get_absolute_url()).content.decode()
        assert f'href="#reply-{reply.pk}"' in learner_page

    def test_the_csrf_token_is_required(self):
        self.client.force_login(self.learner)
        strict = self.client_class(enforce_csrf_checks=True)
        strict.force_login(self.learner)
        assert strict.post(self.url, {"body": "Hi"}).status_code == 403


class ThreadApiTests(GateWorld, TestCase):
    def setUp(self) -> None:
        self.request = create_gate_request(learner=self.learner, gate=self.gate, submit=True)

    def post(self, user, body: object):
        token = create_token(user=user)[1]
        return self.client.post(
            f"/api/v1/gate-requests/{self.request.pk}/replies",
            json.dumps(body),
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )

    def test_a_reply_through_the_api_is_the_same_reply(self):
        response = self.post(self.reviewer, {"body": "Which dtype?"})
        assert response.status_code == 201
        assert response.json()["author"] == "rita"
        assert self.request.thread().get().payload["body"] == "Which dtype?"
        token = create_token(user=self.learner)[1]
        got = self.client.get(f"/api/v1/gate-requests/{self.request.pk}", headers={"Authorization": f"Bearer {token}"})
        assert [r["body"] for r in got.json()["replies"]] == ["Which dtype?"]
        assert Notification.objects.filter(user=self.learner, kind=Notification.Kind.GATE_REPLY).exists()

    def test_bad_input_is_a_422_naming_the_field_and_strangers_get_404(self):
        empty = self.post(self.learner, {"body": "  "})
        assert empty.status_code == 422
        assert empty.json()["errors"][0]["field"] == "body"
        assert self.post(self.learner, {}).status_code == 422
        assert self.post(self.outsider, {"body": "Hi"}).status_code == 404
        assert self.post(self.staff, {"body": "Hi"}).status_code == 403
        assert not self.request.thread().exists()

    def test_a_decision_through_the_api_quotes_a_reply(self):
        reply = self.request.reply(by=self.learner, body="Done")
        token = create_token(user=self.reviewer)[1]
        response = self.client.post(
            f"/api/v1/gate-requests/{self.request.pk}/decision",
            json.dumps({"decision": "changes_requested", "comment": "One more", "quote": reply.pk}),
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200
        assert self.request.reviews.get().quote["reply"] == reply.pk
        missing = self.client.post(
            f"/api/v1/gate-requests/{self.request.pk}/decision",
            json.dumps({"decision": "changes_requested", "comment": "x", "quote": 999999}),
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert missing.status_code == 422
        assert missing.json()["errors"][0]["field"] == "quote"
