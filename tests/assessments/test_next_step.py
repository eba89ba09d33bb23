"""The dashboard's next-step sentence ("To reach level N, ... a reviewer's approval of the gate(s) of
...") in each of its branches: nothing pending, one gate, several gates of one level, the lowest
pending level first, gates approved higher up, and the wording for a lead reading a member's page."""

from __future__ import annotations

import re

from django.test import TestCase
from django.urls import reverse

from tests.assessments.gates import GateWorld
from tests.factories import create_gate, create_gate_request, create_layer, create_level


def sentence(html: str) -> str | None:
    """The next-step sentence as read: tags dropped, spaces collapsed; None when there is none."""
    found = re.search(r'<span class="muted next-level">(.*?)</span>', html, re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", found.group(1))).strip() if found else None


class NextStepSentenceTests(GateWorld, TestCase):
    def approve(self, gate):
        request = create_gate_request(learner=self.learner, gate=gate, passing_evidence=True, submit=True)
        request.approve(by=self.reviewer, marks=["met"] * len(request.checklist))

    def own(self) -> str | None:
        self.client.force_login(self.learner)
        return sentence(self.client.get(reverse("assessments:dashboard"), {"roadmap": "llm"}).content.decode())

    def as_lead(self) -> str | None:
        self.client.force_login(self.lead)
        url = reverse("teams:member-dashboard", args=[self.team.slug, self.learner.username])
        response = self.client.get(url, {"roadmap": "llm"})
        assert response.status_code == 200
        return sentence(response.content.decode())

    def test_one_gate_pending_names_it_and_says_what_to_do(self):
        assert self.own() == (
            f"To reach level 1, you need a reviewer's approval of the gate of {self.layer.label}: "
            "open the layer and request a review."
        )

    def test_a_lead_reads_the_members_name_and_no_instruction(self):
        assert self.as_lead() == (
            f"To reach level 1, Lena Learner needs a reviewer's approval of the gate of {self.layer.label}."
        )

    def test_several_gates_of_the_lowest_pending_level_are_all_named_and_higher_ones_are_not(self):
        other = create_layer(roadmap=self.roadmap, number=3, title="Attention")
        create_gate(layer=other, level=self.level1)
        higher = create_layer(roadmap=self.roadmap, number=9, title="Serving")
        create_gate(layer=higher, level=create_level(roadmap=self.roadmap, number=2))
        text = self.own()
        assert text.startswith("To reach level 1, you need a reviewer's approval of the gates of ")
        assert other.label in text and self.layer.label in text and higher.label not in text

    def test_gates_approved_higher_up_are_said_to_count_later(self):
        higher = create_layer(roadmap=self.roadmap, number=9, title="Serving")
        self.approve(create_gate(layer=higher, level=create_level(roadmap=self.roadmap, number=2)))
        assert self.own().endswith(
            "request a review. Gates approved higher up count once every lower level's gates are approved."
        )

    def test_nothing_pending_means_no_sentence(self):
        self.approve(self.gate)
        assert self.own() is None
        assert self.as_lead() is None
