from __future__ import annotations

from datetime import timedelta

from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from assessments.dashboard import build_dashboard
from assessments.models import Activity, PathFollow
from tests.factories import (
    create_assessment,
    create_layer,
    create_level,
    create_path,
    create_progress,
    create_roadmap,
    create_topic,
    create_user,
)


class DashboardTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = create_user()
        cls.roadmap = create_roadmap(slug="rm", title="The roadmap")
        create_level(roadmap=cls.roadmap, number=3, title="Practitioner")
        cls.layers = [create_layer(roadmap=cls.roadmap, number=n) for n in (1, 2, 3)]
        cls.a = create_topic(layer=cls.layers[0], title="Alpha")
        cls.b = create_topic(layer=cls.layers[0], title="Beta", prerequisites=(cls.a,))
        cls.c = create_topic(layer=cls.layers[1], title="Gamma", prerequisites=(cls.b,))
        cls.d = create_topic(layer=cls.layers[2], title="Delta")
        create_progress(user=cls.user, topic=cls.a, status="done", confidence=4)
        create_progress(user=cls.user, topic=cls.b, status="skipped")
        create_progress(user=cls.user, topic=cls.d, status="learning")
        create_assessment(user=cls.user, layer=cls.layers[0], level=3)
        PathFollow.follow(cls.user, create_path(roadmap=cls.roadmap, topics=(cls.d, cls.c), title="The path"))

    def setUp(self):
        self.client.force_login(self.user)

    def test_it_shows_progress_levels_next_topics_and_paths(self):
        response = self.client.get(reverse("assessments:dashboard"))

        assert response.context["roadmap"] == self.roadmap  # the one with marked topics
        board = response.context["board"]
        assert (board.overall.done, board.overall.skipped, board.overall.learning, board.overall.total) == (1, 1, 1, 4)
        assert board.complete_layers == 1
        assert [(r.self_level, r.self_title, r.verified_level) for r in board.layers] == [
            (3, "Practitioner", 0),
            (None, "", 0),
            (None, "", 0),
        ]
        assert [s.topic for s in board.suggestions] == [self.d, self.c]
        assert [(p.path.title, p.done, p.total) for p in board.paths] == [("The path", 0, 2)]
        self.assertContains(response, 'class="radar"')
        self.assertContains(response, 'class="heatmap"')
        self.assertContains(response, "Verified is 0 until a reviewer approves")
        self.assertContains(response, "Marked skipped")

    def test_the_verified_column_never_shows_the_self_rating(self):
        response = self.client.get(reverse("assessments:dashboard") + "?roadmap=rm")

        self.assertContains(response, 'level-badge level-verified level-none" title="Not verified yet">0<', count=3)
        self.assertContains(response, 'level-badge level-self">3<', count=1)

    def test_an_unknown_roadmap_goes_back_to_the_plain_dashboard(self):
        response = self.client.get(reverse("assessments:dashboard") + "?roadmap=nope")
        self.assertRedirects(response, reverse("assessments:dashboard"))

    def test_streaks_and_active_days_come_from_the_activity_log(self):
        now = timezone.now()
        Activity.objects.filter(user=self.user).update(created_at=now - timedelta(days=1))
        for days_ago in (3, 4, 5, 6):
            Activity.objects.create(user=self.user, verb="status", created_at=now - timedelta(days=days_ago))

        board = build_dashboard(self.user, "rm")

        assert (board.current_streak, board.longest_streak, board.active_days) == (1, 4, 5)

    def test_a_new_learner_gets_a_way_in(self):
        self.client.force_login(create_user())

        response = self.client.get(reverse("assessments:dashboard"))

        self.assertContains(response, "Start here")
        assert response.context["board"].current_streak == 0

    def test_another_learners_dashboard_holds_none_of_my_data(self):
        self.client.force_login(create_user())

        board = self.client.get(reverse("assessments:dashboard") + "?roadmap=rm").context["board"]

        assert board.overall.done == board.overall.skipped == board.overall.learning == 0
        assert all(row.self_level is None for row in board.layers)
        assert board.paths == [] and board.timeline == []

    def test_anonymous_visitors_are_sent_to_log_in(self):
        self.client.logout()
        response = self.client.get(reverse("assessments:dashboard"))
        assert response.status_code == 302 and reverse("accounts:login") in response.url
