from __future__ import annotations

from django.test import TestCase
from django.urls import reverse

from assessments.models import Activity, PersonalLink, TopicNote
from tests.factories import create_link, create_note, create_topic, create_user


class NoteTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = create_user()
        cls.topic = create_topic()
        cls.url = reverse("assessments:note-update", args=[cls.topic.roadmap.slug, cls.topic.slug])

    def setUp(self):
        self.client.force_login(self.user)

    def test_htmx_saves_the_note_and_gets_the_rendered_fragment(self):
        response = self.client.post(self.url, {"body": "Use **bf16**."}, headers={"HX-Request": "true"})

        self.assertContains(response, 'id="topic-note"')
        self.assertContains(response, "<strong>bf16</strong>")
        self.assertNotContains(response, "<html")
        assert TopicNote.objects.get().body == "Use **bf16**."

    def test_without_javascript_it_redirects_to_the_topic(self):
        response = self.client.post(self.url, {"body": "x"})
        self.assertRedirects(response, self.topic.get_absolute_url() + "#your-notes", fetch_redirect_response=False)

    def test_markdown_is_sanitised(self):
        create_note(user=self.user, topic=self.topic, body="<script>alert(1)</script>[x](javascript:alert(2))")

        response = self.client.get(self.topic.get_absolute_url())

        self.assertNotContains(response, "<script>alert")  # the editor holds it escaped: &lt;script&gt;
        self.assertNotContains(response, 'href="javascript:')

    def test_editing_logs_activity_only_when_the_text_changes(self):
        self.client.post(self.url, {"body": "one"})
        self.client.post(self.url, {"body": "one"})
        self.client.post(self.url, {"body": "two"})

        assert Activity.objects.filter(verb="note").count() == 2
        assert TopicNote.objects.count() == 1

    def test_the_note_list_shows_only_my_notes(self):
        create_note(user=self.user, topic=self.topic, body="mine")
        create_note(user=create_user(), topic=self.topic, body="theirs")

        response = self.client.get(reverse("assessments:note-list"))

        self.assertContains(response, "mine")
        self.assertNotContains(response, "theirs")

    def test_another_learner_cannot_see_or_overwrite_my_note(self):
        create_note(user=self.user, topic=self.topic, body="mine")
        other = create_user()
        self.client.force_login(other)

        self.client.post(self.url, {"body": "theirs"})

        assert TopicNote.objects.get(user=self.user).body == "mine"
        assert TopicNote.objects.get(user=other).body == "theirs"
        self.assertNotContains(self.client.get(self.topic.get_absolute_url()), "mine")

    def test_anonymous_visitors_are_sent_to_log_in(self):
        self.client.logout()
        assert self.client.post(self.url, {"body": "x"}).status_code == 302
        assert not TopicNote.objects.exists()


class LinkTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = create_user()
        cls.topic = create_topic()
        cls.url = reverse("assessments:link-create", args=[cls.topic.roadmap.slug, cls.topic.slug])

    def setUp(self):
        self.client.force_login(self.user)

    def test_htmx_adds_a_link_and_gets_the_list(self):
        response = self.client.post(
            self.url, {"url": "https://example.com/kv", "title": "KV notes"}, headers={"HX-Request": "true"}
        )

        self.assertContains(response, 'id="topic-links"')
        self.assertContains(response, 'href="https://example.com/kv"')
        assert PersonalLink.objects.get().title == "KV notes"

    def test_only_http_and_https_links_are_kept(self):
        for url in ("javascript:alert(1)", "ftp://example.com/x", "not a url"):
            response = self.client.post(self.url, {"url": url}, headers={"HX-Request": "true"})
            self.assertContains(response, "errorlist")
        assert not PersonalLink.objects.exists()

    def test_deleting_my_link(self):
        link = create_link(user=self.user, topic=self.topic)

        response = self.client.post(link.get_delete_url(), headers={"HX-Request": "true"})

        self.assertContains(response, 'id="topic-links"')
        assert not PersonalLink.objects.exists()

    def test_another_learners_link_is_404(self):
        link = create_link(user=create_user(), topic=self.topic)

        assert self.client.post(link.get_delete_url()).status_code == 404
        assert PersonalLink.objects.filter(pk=link.pk).exists()
