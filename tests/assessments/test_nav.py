"""The nav's Reviews link and notification bell come from context processors of the apps that own
them: one query each on a page, none on an htmx fragment that draws no nav."""

from __future__ import annotations

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.assessments.gates import GateWorld
from tests.factories import create_gate_request, create_path, create_topic

REVIEWS = '<a href="/reviews/"'


class ReviewLinkTests(GateWorld, TestCase):
    def test_a_reviewer_sees_how_many_requests_await_a_decision(self):
        create_gate_request(learner=self.learner, gate=self.gate, submit=True)
        self.client.force_login(self.reviewer)

        response = self.client.get(reverse("roadmap:roadmap-list"))

        self.assertContains(
            response,
            '<a href="/reviews/">Reviews <span class="badge-count" title="Awaiting a decision">1</span></a>',
            html=True,
        )

    def test_a_reviewer_with_nothing_waiting_gets_the_link_without_a_count(self):
        self.client.force_login(self.reviewer)

        response = self.client.get(reverse("gates:review-list"))

        self.assertContains(response, '<a href="/reviews/" aria-current="page">Reviews</a>', html=True)
        self.assertNotContains(response, "Awaiting a decision")

    def test_a_learner_who_reviews_for_no_team_has_no_link(self):
        self.client.force_login(self.learner)

        self.assertNotContains(self.client.get(reverse("roadmap:roadmap-list")), REVIEWS)


class FragmentTests(GateWorld, TestCase):
    def test_a_fragment_without_the_nav_runs_neither_nav_query(self):
        path = create_path(roadmap=self.roadmap, topics=(create_topic(layer=self.layer),))
        self.client.force_login(self.reviewer)

        with CaptureQueriesContext(connection) as ctx:
            response = self.client.post(
                reverse("assessments:path-follow", args=[self.roadmap.slug, path.slug]),
                {"follow": "1"},
                headers={"HX-Request": "true"},
            )

        self.assertContains(response, "Stop following")
        sql = " ".join(q["sql"] for q in ctx.captured_queries)
        assert '"accounts_notification"' not in sql
        assert '"accounts_membership"' not in sql
