from __future__ import annotations

import json

from django.test import Client, TestCase
from django.urls import reverse

from accounts.models import ApiToken, User
from assessments.models import Activity, PathFollow, PersonalLink, SelfAssessment, TopicNote, TopicProgress
from portfolio.models import Artifact, Run
from tests.factories import (
    create_artifact,
    create_assessment,
    create_link,
    create_note,
    create_path,
    create_progress,
    create_run,
    create_runnable_artifact,
    create_topic,
    create_user,
    create_version,
)


class ExportTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = create_user(username="ada", email="ada@example.com")
        cls.topic = create_topic(slug="alpha")
        create_progress(user=cls.user, topic=cls.topic, status="done", confidence=4)
        create_assessment(user=cls.user, layer=cls.topic.layer, level=3, justification="built it")
        create_note(user=cls.user, topic=cls.topic, body="my note")
        create_link(user=cls.user, topic=cls.topic, url="https://example.com/x", title="X")
        PathFollow.follow(cls.user, create_path(topics=(cls.topic,), slug="start"))
        ApiToken.issue(cls.user, "laptop")
        create_version(artifact=create_artifact(owner=cls.user, title="My benchmark"))
        other = create_user()
        create_note(user=other, topic=cls.topic, body="not mine")
        create_progress(user=other, topic=create_topic(slug="theirs"))

    def test_it_downloads_everything_of_mine_as_json(self):
        self.client.force_login(self.user)

        response = self.client.get(reverse("assessments:data-export"))

        assert response["Content-Type"] == "application/json"
        assert response["Content-Disposition"].startswith('attachment; filename="layerwise-ada-')
        data = json.loads(response.content)
        assert data["version"] == 1
        assert data["user"]["username"] == "ada"
        roadmap = self.topic.roadmap.slug
        assert [(p["roadmap"], p["topic"], p["status"], p["confidence"]) for p in data["progress"]] == [
            (roadmap, "alpha", "done", 4)
        ]
        assert [(a["level"], a["justification"]) for a in data["self_assessments"]] == [(3, "built it")]
        assert [n["body"] for n in data["notes"]] == ["my note"]
        assert [(link["url"], link["title"]) for link in data["links"]] == [("https://example.com/x", "X")]
        assert [f["path"] for f in data["path_follows"]] == ["start"]
        assert {a["verb"] for a in data["activity"]} == {"status", "assessment", "note", "link", "follow"}
        assert [t["name"] for t in data["api_tokens"]] == ["laptop"]
        [artifact] = data["artifacts"]
        assert artifact["title"] == "My benchmark"
        assert [len(v["sha256"]) for v in artifact["versions"]] == [64]
        assert "digest" not in json.dumps(data["api_tokens"])
        assert "not mine" not in response.content.decode()
        assert "theirs" not in response.content.decode()

    def test_anonymous_visitors_are_sent_to_log_in(self):
        assert self.client.get(reverse("assessments:data-export")).status_code == 302


class DeleteAccountTests(TestCase):
    def setUp(self):
        self.user = create_user(password="s3cret-pass")
        topic = create_topic()
        create_progress(user=self.user, topic=topic)
        create_assessment(user=self.user, layer=topic.layer)
        create_note(user=self.user, topic=topic)
        create_link(user=self.user, topic=topic)
        PathFollow.follow(self.user, create_path(topics=(topic,)))
        ApiToken.issue(self.user, "x")
        self.other = create_user()
        create_progress(user=self.other, topic=topic)
        self.client.force_login(self.user)
        self.url = reverse("assessments:account-delete")

    def test_artifacts_with_runs_and_results_go_too(self):
        artifact = create_runnable_artifact(owner=self.user)
        create_run(version=create_version(artifact=artifact), by=self.user)
        someone_elses = create_run()

        self.client.post(self.url, {"password": "s3cret-pass"})

        assert not User.objects.filter(pk=self.user.pk).exists()
        assert not Artifact.objects.filter(owner_id=self.user.pk).exists()
        assert list(Run.objects.all()) == [someone_elses]

    def test_a_wrong_password_deletes_nothing(self):
        response = self.client.post(self.url, {"password": "wrong"})

        self.assertContains(response, "That is not your password")
        assert User.objects.filter(pk=self.user.pk).exists()

    def test_it_removes_the_user_and_all_their_rows_and_logs_out(self):
        response = self.client.post(self.url, {"password": "s3cret-pass"})

        self.assertRedirects(response, reverse("roadmap:roadmap-list"), fetch_redirect_response=False)
        assert not User.objects.filter(pk=self.user.pk).exists()
        for model in (TopicProgress, Activity, SelfAssessment, TopicNote, PersonalLink, PathFollow, ApiToken):
            assert not model.objects.filter(user_id=self.user.pk).exists(), model
        assert TopicProgress.objects.filter(user=self.other).exists()
        assert self.client.get(reverse("assessments:dashboard")).status_code == 302

    def test_it_needs_a_post_with_csrf(self):
        client = Client(enforce_csrf_checks=True)
        client.force_login(self.user)
        assert client.post(self.url, {"password": "s3cret-pass"}).status_code == 403
        assert User.objects.filter(pk=self.user.pk).exists()
