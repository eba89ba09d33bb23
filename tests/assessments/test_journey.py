"""The whole learner story, as "done means" in the issue puts it: in the browser's forms, then over the API."""

from __future__ import annotations

from django.test import TestCase
from django.urls import reverse

from tests.factories import create_layer, create_level, create_path, create_roadmap, create_topic


class NewLearnerJourneyTests(TestCase):
    def test_sign_up_mark_rate_note_follow_and_see_it_all_then_the_same_over_the_api(self):
        roadmap = create_roadmap(slug="rm", title="The roadmap")
        create_level(roadmap=roadmap, number=2, title="Builder")
        layer = create_layer(roadmap=roadmap, slug="basics")
        first = create_topic(layer=layer, slug="first", title="First topic")
        second = create_topic(layer=layer, slug="second", title="Second topic", prerequisites=(first,))
        path = create_path(roadmap=roadmap, topics=(first, second), title="Start here")

        self.client.post(
            reverse("accounts:signup"),
            {
                "username": "ada",
                "email": "ada@example.com",
                "password1": "pass-phrase-42",
                "password2": "pass-phrase-42",
            },
        )
        self.client.post(reverse("assessments:progress-update", args=["rm", "first"]), {"status": "done"})
        self.client.post(reverse("assessments:progress-update", args=["rm", "first"]), {"confidence": "4"})
        self.client.post(
            reverse("assessments:assessment-detail", args=["rm", "basics"]),
            {"level": "2", "justification": "Built one."},
        )
        self.client.post(reverse("assessments:note-update", args=["rm", "first"]), {"body": "Remember **this**."})
        self.client.post(reverse("assessments:path-follow", args=["rm", path.slug]), {"follow": "1"})

        dashboard = self.client.get(reverse("assessments:dashboard"))
        board = dashboard.context["board"]
        assert (board.overall.done, board.overall.total) == (1, 2)
        assert [(row.self_level, row.self_title, row.verified_level) for row in board.layers] == [(2, "Builder", 0)]
        assert [s.topic.slug for s in board.suggestions] == ["second"]
        assert [(p.path.title, p.done, p.total) for p in board.paths] == [("Start here", 1, 2)]
        self.assertContains(dashboard, "Wrote a note")
        self.assertContains(dashboard, "Marked done")
        self.assertContains(self.client.get(first.get_absolute_url()), "<strong>this</strong>")

        token = self.client.post(reverse("accounts:token-create"), {"name": "script"}).context["new_token"]
        auth = {"Authorization": f"Bearer {token}"}
        put = self.client.put(
            "/api/v1/me/progress/rm/second", {"status": "learning"}, content_type="application/json", headers=auth
        )
        assert put.status_code == 200
        progress = self.client.get("/api/v1/me/progress?roadmap=rm", headers=auth).json()["roadmaps"][0]
        assert [(t["topic"], t["status"], t["confidence"]) for t in progress["topics"]] == [
            ("first", "done", 4),
            ("second", "learning", None),
        ]
        assert progress["summary"]["learning"] == 1
        assert self.client.get("/api/v1/me", headers=auth).json()["username"] == "ada"
        assert self.client.get(reverse("assessments:dashboard")).context["board"].overall.learning == 1
