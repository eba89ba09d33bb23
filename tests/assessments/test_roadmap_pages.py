"""The learner's side of the public roadmap, layer, topic and path pages."""

from __future__ import annotations

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from assessments.models import TopicProgress
from tests.factories import (
    create_assessment,
    create_layer,
    create_link,
    create_note,
    create_path,
    create_progress,
    create_roadmap,
    create_topic,
    create_user,
)


class LearnerOnRoadmapPagesTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = create_user()
        cls.roadmap = create_roadmap(slug="rm")
        cls.layer = create_layer(roadmap=cls.roadmap)
        cls.done = create_topic(layer=cls.layer, slug="done-topic")
        cls.open = create_topic(layer=cls.layer, slug="open-topic", prerequisites=(cls.done,))
        create_progress(user=cls.user, topic=cls.done, status="done", confidence=4)

    def test_the_graph_colours_the_learners_nodes(self):
        self.client.force_login(self.user)

        response = self.client.get(self.roadmap.get_absolute_url())

        self.assertContains(response, f'class="graph-node status-done" data-topic="{self.done.pk}"')
        self.assertContains(response, f'class="graph-node status-not_started" data-topic="{self.open.pk}"')
        self.assertContains(response, 'id="roadmap-progress-rm"')
        self.assertContains(response, f'id="layer-progress-{self.layer.slug}"')
        self.assertContains(response, "data-graph-marking")

    def test_the_layer_page_has_a_status_form_per_topic(self):
        self.client.force_login(self.user)

        response = self.client.get(self.layer.get_absolute_url())

        for topic in (self.done, self.open):
            url = reverse("assessments:progress-update", args=["rm", topic.slug])
            self.assertContains(response, f'action="{url}" hx-post="{url}"')
        self.assertContains(response, 'name="refresh" value="layer"', count=2)
        self.assertContains(response, 'id="self-rating"')

    def test_the_topic_page_shows_status_notes_and_links(self):
        create_note(user=self.user, topic=self.done, body="**mine**")
        create_link(user=self.user, topic=self.done, url="https://example.com/mine", title="My link")
        self.client.force_login(self.user)

        response = self.client.get(self.done.get_absolute_url())

        self.assertContains(response, f'id="topic-status-{self.done.slug}"')
        self.assertContains(response, "<strong>mine</strong>")
        self.assertContains(response, "My link")

    def test_another_learner_sees_none_of_it(self):
        create_note(user=self.user, topic=self.done, body="secret note")
        create_link(user=self.user, topic=self.done, title="secret link")
        create_assessment(user=self.user, layer=self.layer, level=5)
        self.client.force_login(create_user())

        topic_page = self.client.get(self.done.get_absolute_url())
        roadmap_page = self.client.get(self.roadmap.get_absolute_url())
        layer_page = self.client.get(self.layer.get_absolute_url())

        self.assertNotContains(topic_page, "secret")
        self.assertNotContains(topic_page, 'aria-pressed="true"')
        self.assertNotContains(roadmap_page, "graph-node status-done")
        self.assertNotContains(layer_page, 'level-self">5')

    def test_anonymous_visitors_get_the_plain_catalogue(self):
        for url in (self.roadmap.get_absolute_url(), self.layer.get_absolute_url(), self.done.get_absolute_url()):
            response = self.client.get(url)
            assert response.status_code == 200
            self.assertNotContains(response, "topic-status-")
            self.assertNotContains(response, "Your notes")
            self.assertNotContains(response, "data-graph-marking")

    def test_the_path_page_offers_to_follow(self):
        path = create_path(roadmap=self.roadmap, topics=(self.done,))
        self.client.force_login(self.user)

        self.assertContains(self.client.get(path.get_absolute_url()), "Follow this path")


class QueryCountTests(TestCase):
    """Dashboard, roadmap and layer pages: the same queries with 10 and with 150 topics marked."""

    @classmethod
    def setUpTestData(cls):
        cls.user = create_user()
        cls.roadmap = create_roadmap(slug="big")
        previous = None
        cls.topics = []
        for number in range(1, 11):
            layer = create_layer(roadmap=cls.roadmap, number=number)
            for _ in range(16):
                previous = create_topic(layer=layer, prerequisites=(previous,) if previous else ())
                cls.topics.append(previous)
        cls.first_layer = cls.roadmap.layers.first()
        for layer in cls.roadmap.layers.all()[:3]:
            create_assessment(user=cls.user, layer=layer, level=3)
        create_path(roadmap=cls.roadmap, topics=tuple(cls.topics[:40]))

    def urls(self) -> list[str]:
        return [
            reverse("assessments:dashboard") + "?roadmap=big",
            reverse("assessments:dashboard"),
            self.roadmap.get_absolute_url(),
            self.first_layer.get_absolute_url(),
            reverse("assessments:progress-detail", args=["big"]),
        ]

    def mark(self, n: int) -> None:
        statuses = ["done", "learning", "skipped", "done"]
        for i, topic in enumerate(self.topics[:n]):
            if not TopicProgress.objects.filter(user=self.user, topic=topic).exists():
                create_progress(user=self.user, topic=topic, status=statuses[i % 4], confidence=1 + i % 5)

    def queries(self, url: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = self.client.get(url)
        assert response.status_code == 200, url
        return len(ctx)

    def test_query_counts_do_not_grow_with_the_marked_topics(self):
        self.client.force_login(self.user)
        self.mark(10)
        small = [self.queries(url) for url in self.urls()]

        self.mark(150)
        large = [self.queries(url) for url in self.urls()]

        assert small == large, list(zip(self.urls(), small, large, strict=True))

    def test_the_dashboard_query_count_is_fixed(self):
        self.client.force_login(self.user)
        self.mark(150)
        # 15 for the dashboard itself, 1 for the nav's Reviews link (does the user review for a team?),
        # 1 for the nav's notification bell (unread count).
        with self.assertNumQueries(17):
            self.client.get(reverse("assessments:dashboard") + "?roadmap=big")
