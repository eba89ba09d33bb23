from __future__ import annotations

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assessments.dashboard import build_dashboard
from assessments.models import GateRequest, cumulative_level
from tests.assessments.gates import GateWorld
from tests.factories import create_gate, create_gate_request, create_layer, create_level, create_user


class VerifiedLevelTests(GateWorld, TestCase):
    def verified_levels(self):
        return list(GateRequest.objects.of(self.learner).verified_levels())

    def approve(self, gate, learner=None):
        r = create_gate_request(learner=learner or self.learner, gate=gate, passing_evidence=True, submit=True)
        r.approve(by=self.reviewer, marks=["met"] * len(r.checklist))
        return r

    def test_an_approved_gate_raises_the_layers_verified_level_and_reopening_lowers_it(self):
        assert self.verified_levels() == []
        r = self.approve(self.gate)
        assert self.verified_levels() == [(self.learner.pk, self.layer.pk, 1, False)]

        r.reopen(by=self.lead, reason="Numbers were wrong.")
        assert self.verified_levels() == []

    def test_requests_that_are_not_approved_count_for_nothing(self):
        r = create_gate_request(learner=self.learner, gate=self.gate, submit=True)
        r.request_changes(by=self.reviewer, comment="Not yet.")
        assert self.verified_levels() == []

    def test_a_level_needs_every_gate_of_the_levels_below_it(self):
        level2 = create_level(roadmap=self.roadmap, number=2, title="Engineer")
        level3 = create_level(roadmap=self.roadmap, number=3, title="Systems engineer")
        gate2 = create_gate(layer=create_layer(roadmap=self.roadmap, number=9), level=level2)
        gate3a = create_gate(layer=create_layer(roadmap=self.roadmap, number=5), level=level3)
        gate3b = create_gate(layer=create_layer(roadmap=self.roadmap, number=11), level=level3)

        def overall() -> int:
            return build_dashboard(self.learner, "llm").verified_level

        self.approve(gate3a)
        self.approve(gate3b)
        assert overall() == 0  # level 3's gates alone do not make level 3
        self.approve(self.gate)
        assert overall() == 1
        board = build_dashboard(self.learner, "llm")
        assert [layer.pk for layer in board.next_level_needs] == [gate2.layer_id]
        r2 = self.approve(gate2)
        assert overall() == 3
        r2.reopen(by=self.learner, reason="I want to redo it.")
        assert overall() == 1

    def test_cumulative_level_rules(self):
        assert cumulative_level([]) == 0
        assert cumulative_level([(None, True)]) == 0  # a gate that counts toward no level
        assert cumulative_level([(1, True), (2, False), (3, True)]) == 1
        assert cumulative_level([(1, True), (3, True)]) == 3  # level 2 has no gate of its own
        assert cumulative_level([(2, True)]) == 2  # level 1 has none: level 2 is still earned by its gate
        assert cumulative_level([(1, True), (1, False)]) == 0

    def test_the_batched_rows_read_many_learners_in_one_query(self):
        others = [create_user() for _ in range(3)]
        for person in others[:2]:
            self.team.add_member(person)
            self.approve(self.gate, learner=person)
        learners = [self.learner, *others]
        with self.assertNumQueries(1):
            rows = set(GateRequest.objects.filter(learner__in=learners, gate__layer=self.layer).verified_levels())
        # A learner without a row (self.learner, others[2]) is at verified level 0.
        assert rows == {(others[0].pk, self.layer.pk, 1, False), (others[1].pk, self.layer.pk, 1, False)}


class VerifiedOnPagesTests(GateWorld, TestCase):
    def setUp(self):
        self.client.force_login(self.learner)

    def test_the_dashboard_shows_verified_beside_self_rated_with_who_and_when(self):
        r = create_gate_request(learner=self.learner, gate=self.gate, versions=(self.version,), submit=True)
        r.approve(by=self.reviewer, marks=["met", "met"])

        response = self.client.get(reverse("assessments:dashboard") + "?roadmap=llm")

        (row,) = response.context["board"].layers
        assert (row.verified_level, row.verified_by, row.verified_request) == (1, "Rita Reviewer", r.pk)
        self.assertContains(response, "verified by Rita Reviewer on")
        self.assertContains(response, f'href="{r.get_absolute_url()}" title="Verified by Rita Reviewer')
        assert response.context["board"].verified_level == 1

    def test_the_dashboard_query_count_does_not_grow_with_approved_gates(self):
        def count() -> int:
            with CaptureQueriesContext(connection) as ctx:
                self.client.get(reverse("assessments:dashboard") + "?roadmap=llm")
            return len(ctx)

        before = count()
        for n in range(3):
            gate = create_gate(layer=create_layer(roadmap=self.roadmap, number=20 + n), level=self.level1)
            r = create_gate_request(learner=self.learner, gate=gate, submit=True)
            r.approve(by=self.reviewer, marks=["met", "met"])
        assert count() == before

    def test_the_layer_page_and_rating_page_show_the_verified_level(self):
        r = create_gate_request(learner=self.learner, gate=self.gate, versions=(self.version,), submit=True)
        r.approve(by=self.lead, marks=["met", "met"])

        for url in (self.layer.get_absolute_url(), reverse("assessments:assessment-detail", args=["llm", "kv-cache"])):
            response = self.client.get(url)
            self.assertContains(response, '<span class="level-badge level-verified">1</span>', html=False)
            self.assertContains(response, "Verified by Leo Lead on")
