"""The learner's part of the roadmap page's side panel and its status filter (assessments/overlays.py)."""

from __future__ import annotations

from django.test import TestCase

from tests.factories import create_layer, create_note, create_progress, create_roadmap, create_topic, create_user


class LearnerPanelTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = create_user()
        cls.other = create_user()
        roadmap = create_roadmap(slug="rm")
        layer = create_layer(roadmap=roadmap)
        cls.done = create_topic(layer=layer, slug="done-topic", title="Done one")
        cls.open = create_topic(layer=layer, slug="open-topic", title="Open one")
        create_progress(user=cls.user, topic=cls.done, status="done", confidence=4)
        create_note(user=cls.user, topic=cls.done, body="my **own** words")
        cls.url = roadmap.get_absolute_url()

    def test_the_panel_has_the_learners_status_confidence_and_note(self):
        self.client.force_login(self.user)

        response = self.client.get(self.url, {"topic": "done-topic"}, headers={"HX-Request": "true"})

        self.assertContains(response, 'id="topic-status-done-topic"')
        self.assertContains(response, 'aria-pressed="true" title="Click again to clear">Done</button>')
        self.assertContains(response, "4: confident")
        self.assertContains(response, "<strong>own</strong>")
        self.assertContains(response, "Edit your note")

    def test_another_learner_sees_only_their_own_empty_state(self):
        self.client.force_login(self.other)

        response = self.client.get(self.url, {"topic": "done-topic"}, headers={"HX-Request": "true"})

        self.assertNotContains(response, "own</strong>")
        self.assertNotContains(response, 'aria-pressed="true"')
        self.assertContains(response, "Write a private note")

    def test_the_status_filter_keeps_the_learners_done_topics(self):
        self.client.force_login(self.user)

        response = self.client.get(self.url, {"status": "done"})

        self.assertContains(response, "1 of 2 topics match")
        self.assertContains(response, f'id="node-open-topic" data-layer="{self.open.layer_id}" data-match="no"')

    def test_an_unknown_status_is_a_400_that_names_the_field(self):
        self.client.force_login(self.user)

        response = self.client.get(self.url, {"status": "finished"})

        self.assertContains(response, "Status: Select a valid choice.", status_code=400)


class RoadmapCardTests(TestCase):
    def test_a_learner_sees_their_progress_bar_on_each_roadmap_card(self):
        user = create_user()
        topic = create_topic(layer=create_layer(roadmap=create_roadmap(slug="rm")))
        create_topic(layer=topic.layer)
        create_progress(user=user, topic=topic, status="done")
        create_topic(layer=create_layer(roadmap=create_roadmap(slug="other")))
        self.client.force_login(user)

        response = self.client.get("/")

        self.assertContains(response, "Your progress: 1 done, 0 learning, 0 skipped, of 2 topics")
        self.assertContains(response, "You have not started it", count=1)

    def test_visitors_see_no_progress_bar(self):
        create_topic(layer=create_layer(roadmap=create_roadmap(slug="rm")))

        response = self.client.get("/")

        self.assertNotContains(response, "Your progress")
