from __future__ import annotations

from django.db import IntegrityError, transaction
from django.test import Client, TestCase
from django.urls import reverse

from assessments.models import KEEP, Activity, TopicProgress
from assessments.progress import Progress
from tests.factories import create_layer, create_progress, create_roadmap, create_topic, create_user


class MarkTests(TestCase):
    def test_it_creates_the_row_and_logs_the_change(self):
        user, topic = create_user(), create_topic()

        progress = TopicProgress.mark(user, topic, status="learning", confidence=2)

        assert (progress.status, progress.confidence) == ("learning", 2)
        activity = Activity.objects.get()
        assert (activity.verb, activity.status, activity.confidence, activity.topic) == ("status", "learning", 2, topic)

    def test_keep_leaves_a_field_alone_and_none_clears_confidence(self):
        progress = create_progress(status="done", confidence=4)

        TopicProgress.mark(progress.user, progress.topic, confidence=KEEP, status="learning")
        progress.refresh_from_db()
        assert (progress.status, progress.confidence) == ("learning", 4)

        TopicProgress.mark(progress.user, progress.topic, confidence=None)
        progress.refresh_from_db()
        assert (progress.status, progress.confidence) == ("learning", None)
        assert Activity.objects.filter(verb="confidence").count() == 1

    def test_an_unchanged_value_writes_no_activity(self):
        progress = create_progress(status="done")

        TopicProgress.mark(progress.user, progress.topic, status="done")

        assert Activity.objects.count() == 1

    def test_invalid_values_are_refused(self):
        user, topic = create_user(), create_topic()
        for kwargs in ({"status": "finished"}, {"confidence": 0}, {"confidence": 6}):
            with self.assertRaises(ValueError):
                TopicProgress.mark(user, topic, **kwargs)

    def test_the_database_refuses_a_confidence_out_of_range_and_a_second_row(self):
        progress = create_progress()
        with self.assertRaises(IntegrityError), transaction.atomic():
            TopicProgress.objects.filter(pk=progress.pk).update(confidence=9)
        with self.assertRaises(IntegrityError), transaction.atomic():
            TopicProgress.objects.create(user=progress.user, topic=progress.topic)


class CountsTests(TestCase):
    def test_skipped_is_counted_apart_and_a_layer_of_done_and_skipped_is_complete(self):
        user = create_user()
        layer = create_layer()
        a, b, c = (create_topic(layer=layer) for _ in range(3))
        create_progress(user=user, topic=a, status="done")
        create_progress(user=user, topic=b, status="skipped")
        create_progress(user=user, topic=c, status="learning")

        counts = Progress.load(user, layer.roadmap).layer(layer.pk)
        assert (counts.done, counts.skipped, counts.learning, counts.not_started, counts.total) == (1, 1, 1, 0, 3)
        assert not counts.complete

        create_progress(user=user, topic=c, status="done")
        assert Progress.load(user, layer.roadmap).layer(layer.pk).complete

    def test_retired_topics_do_not_count(self):
        user = create_user()
        layer = create_layer()
        kept, gone = create_topic(layer=layer), create_topic(layer=layer)
        create_progress(user=user, topic=kept)
        create_progress(user=user, topic=gone)
        gone.retired = True
        gone.save()

        progress = Progress.load(user, layer.roadmap)

        assert (progress.overall.done, progress.overall.total) == (1, 1)
        assert progress.state(gone.pk).status == "done"


class ProgressUpdateViewTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = create_user()
        cls.topic = create_topic()
        cls.url = reverse("assessments:progress-update", args=[cls.topic.roadmap.slug, cls.topic.slug])

    def setUp(self):
        self.client.force_login(self.user)

    def test_htmx_gets_only_the_fragment_and_an_event(self):
        response = self.client.post(self.url, {"status": "done", "confidence": "3"}, headers={"HX-Request": "true"})

        self.assertContains(response, f'id="topic-status-{self.topic.slug}"')
        self.assertNotContains(response, "<html")
        self.assertNotContains(response, "hx-swap-oob")  # nothing asked to refresh
        assert '"progress-changed"' in response["HX-Trigger"]
        assert TopicProgress.objects.get().status == "done"

    def test_htmx_gets_the_summaries_the_page_asks_for_out_of_band(self):
        response = self.client.post(
            self.url, {"status": "done", "refresh": "layer roadmap"}, headers={"HX-Request": "true"}
        )

        self.assertContains(response, f'id="layer-progress-{self.topic.layer.slug}"')
        self.assertContains(response, f'id="roadmap-progress-{self.topic.roadmap.slug}"')
        self.assertContains(response, 'hx-swap-oob="true"', count=2)

    def test_the_pressed_button_sends_the_value_that_clears_it(self):
        create_progress(user=self.user, topic=self.topic, status="done", confidence=2)

        response = self.client.post(self.url, {"confidence": "2"}, headers={"HX-Request": "true"})

        html = response.content.decode()
        assert f'id="status-{self.topic.slug}-done" name="status" value="not_started"' in html
        assert TopicProgress.objects.get().confidence == 2

    def test_without_javascript_it_redirects_back_to_a_safe_next(self):
        response = self.client.post(self.url, {"status": "learning", "next": "/some/page/"})
        self.assertRedirects(response, f"/some/page/#topic-status-{self.topic.slug}", fetch_redirect_response=False)

        response = self.client.post(self.url, {"status": "learning", "next": "https://evil.example/"})
        self.assertRedirects(
            response,
            f"{self.topic.get_absolute_url()}#topic-status-{self.topic.slug}",
            fetch_redirect_response=False,
        )

    def test_invalid_values_change_nothing(self):
        for data in ({"status": "finished"}, {"confidence": "9"}, {}):
            response = self.client.post(self.url, data)
            assert response.status_code == 302
        assert not TopicProgress.objects.exists()

    def test_a_missing_csrf_token_is_refused(self):
        client = Client(enforce_csrf_checks=True)
        client.force_login(self.user)

        response = client.post(self.url, {"status": "done"}, headers={"HX-Request": "true"})

        assert response.status_code == 403
        assert not TopicProgress.objects.exists()

    def test_get_is_not_allowed(self):
        assert self.client.get(self.url).status_code == 405

    def test_anonymous_visitors_are_sent_to_log_in(self):
        self.client.logout()

        response = self.client.post(self.url, {"status": "done"})
        assert response.status_code == 302
        assert response.url.startswith(reverse("accounts:login"))

        response = self.client.post(
            self.url, {"status": "done"}, headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/x/"}
        )
        assert response["HX-Redirect"] == f"{reverse('accounts:login')}?next=/x/"

    def test_unknown_topics_and_retired_roadmaps_are_404(self):
        other = create_roadmap(retired=True)
        hidden = create_topic(layer=create_layer(roadmap=other))
        for url in (
            reverse("assessments:progress-update", args=[self.topic.roadmap.slug, "nope"]),
            reverse("assessments:progress-update", args=[other.slug, hidden.slug]),
        ):
            assert self.client.post(url, {"status": "done"}).status_code == 404

    def test_each_learner_has_their_own_rows(self):
        other = create_user()
        create_progress(user=other, topic=self.topic, status="skipped")

        self.client.post(self.url, {"status": "done"})

        assert TopicProgress.objects.get(user=other).status == "skipped"
        assert TopicProgress.objects.get(user=self.user).status == "done"


class ProgressDetailViewTests(TestCase):
    def test_it_lists_every_current_topic_with_the_learners_status(self):
        user = create_user()
        topic = create_topic()
        create_topic(layer=topic.layer, retired=True, title="Gone topic")
        create_progress(user=user, topic=topic, status="learning")
        create_progress(user=create_user(), topic=topic, status="done")
        self.client.force_login(user)

        response = self.client.get(reverse("assessments:progress-detail", args=[topic.roadmap.slug]))

        self.assertContains(response, f'id="status-{topic.slug}-learning" name="status" value="not_started"')
        self.assertContains(response, 'aria-pressed="true"', count=1)
        self.assertNotContains(response, "Gone topic")

    def test_anonymous_visitors_are_sent_to_log_in(self):
        topic = create_topic()
        response = self.client.get(reverse("assessments:progress-detail", args=[topic.roadmap.slug]))
        assert response.status_code == 302
