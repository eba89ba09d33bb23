from __future__ import annotations

import json

from django.test import TestCase

from accounts.models import ApiToken
from assessments.models import Activity, Status, TopicProgress
from tests.factories import create_layer, create_progress, create_roadmap, create_team, create_topic, create_user


class ApiTestCase(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = create_user(username="ada", display_name="Ada", email="ada@example.com")
        cls.token, cls.raw = ApiToken.issue(cls.user, "tests")
        cls.roadmap = create_roadmap(slug="rm")
        cls.layer = create_layer(roadmap=cls.roadmap, slug="basics")
        cls.topic = create_topic(layer=cls.layer, slug="alpha")
        cls.other_topic = create_topic(layer=cls.layer, slug="beta")

    def call(self, method: str, path: str, body: object = None, token: str | None = None):
        headers = {"Authorization": f"Bearer {token if token is not None else self.raw}"}
        data = json.dumps(body) if body is not None else None
        return getattr(self.client, method)(f"/api/v1{path}", data, content_type="application/json", headers=headers)


class AuthTests(ApiTestCase):
    def test_no_wrong_or_revoked_token_is_401_json(self):
        revoked, raw_revoked = ApiToken.issue(self.user, "old")
        revoked.revoke()
        for response in (
            self.client.get("/api/v1/me"),
            self.call("get", "/me", token="lw_wrong"),
            self.call("get", "/me", token=raw_revoked),
            self.call("put", "/me/progress/rm/alpha", {"status": "done"}, token="nope"),
        ):
            assert response.status_code == 401
            assert "Bearer" in response.json()["message"]
        assert not TopicProgress.objects.exists()

    def test_a_session_is_not_enough(self):
        self.client.force_login(self.user)
        assert self.client.get("/api/v1/me").status_code == 401

    def test_an_inactive_users_token_is_refused(self):
        user = create_user(is_active=False)
        _, raw = ApiToken.issue(user, "x")
        assert self.call("get", "/me", token=raw).status_code == 401


class MeTests(ApiTestCase):
    def test_it_returns_the_user_with_teams_and_roles(self):
        create_team(name="Infra", members={self.user: "reviewer"})

        body = self.call("get", "/me").json()

        assert body["username"] == "ada"
        assert body["display_name"] == "Ada"
        assert [(t["name"], t["role"]) for t in body["teams"]] == [("Infra", "reviewer")]


class ProgressTests(ApiTestCase):
    def test_put_sets_status_and_confidence(self):
        response = self.call("put", "/me/progress/rm/alpha", {"status": "learning", "confidence": 3})

        assert response.status_code == 200, response.content
        body = response.json()
        assert (body["topic"], body["layer"], body["status"], body["confidence"]) == ("alpha", "basics", "learning", 3)
        progress = TopicProgress.objects.get(user=self.user)
        assert (progress.status, progress.confidence) == ("learning", 3)

    def test_put_keeps_what_is_left_out_and_null_clears_confidence(self):
        self.call("put", "/me/progress/rm/alpha", {"status": "learning", "confidence": 3})

        assert self.call("put", "/me/progress/rm/alpha", {"status": "done"}).json()["confidence"] == 3
        assert self.call("put", "/me/progress/rm/alpha", {"confidence": None}).json()["status"] == "done"
        assert TopicProgress.objects.get().confidence is None

    def test_invalid_values_are_422_naming_the_field(self):
        cases = [
            ({"status": "finished"}, "status"),
            ({"status": None}, "status"),
            ({"confidence": 6}, "confidence"),
            ({"confidence": 0}, "confidence"),
            ({"confidence": "high"}, "confidence"),
        ]
        for body, field in cases:
            response = self.call("put", "/me/progress/rm/alpha", body)
            assert response.status_code == 422, body
            errors = response.json()["errors"]
            assert [e["field"] for e in errors] == [field], (body, errors)
            assert response.json()["message"].startswith(f"{field}:")
        assert self.call("put", "/me/progress/rm/alpha", {}).status_code == 422
        assert not TopicProgress.objects.exists()

    def test_a_refused_update_changes_nothing(self):
        self.call("put", "/me/progress/rm/alpha", {"status": "learning", "confidence": 3})
        activity = Activity.objects.count()
        for path, body in (
            ("/me/progress/rm/alpha", {"status": "done", "confidence": 9}),
            ("/me/progress/rm/alpha", {"status": "finished"}),
            ("/me/progress/rm/nope", {"status": "done"}),
        ):
            assert self.call("put", path, body).status_code in (404, 422), (path, body)
        progress = TopicProgress.objects.get()
        assert (progress.status, progress.confidence) == ("learning", 3) and Activity.objects.count() == activity

    def test_the_schema_offers_the_models_statuses(self):
        schema = self.client.get("/api/v1/openapi.json").json()["components"]["schemas"]
        assert schema["TopicProgressOut"]["properties"]["status"]["enum"] == Status.values

    def test_unknown_roadmap_or_topic_is_404_json(self):
        response = self.call("put", "/me/progress/nope/alpha", {"status": "done"})
        assert response.status_code == 404
        assert response.json() == {"message": "No roadmap 'nope'."}

        response = self.call("put", "/me/progress/rm/nope", {"status": "done"})
        assert response.status_code == 404
        assert response.json() == {"message": "No topic 'nope' in roadmap 'rm'."}

        assert self.call("get", "/me/progress?roadmap=nope").status_code == 404

    def test_get_lists_my_rows_and_a_summary(self):
        create_progress(user=self.user, topic=self.topic, status="done", confidence=5)
        create_progress(user=self.user, topic=self.other_topic, status="skipped")
        create_progress(user=create_user(), topic=self.topic, status="learning")

        body = self.call("get", "/me/progress?roadmap=rm").json()

        [roadmap] = body["roadmaps"]
        assert roadmap["roadmap"] == "rm"
        assert roadmap["summary"] == {
            "done": 1,
            "learning": 0,
            "skipped": 1,
            "not_started": 0,
            "total": 2,
            "complete": True,
            "layers_complete": 1,
            "layers": 1,
        }
        assert [(t["topic"], t["status"], t["confidence"]) for t in roadmap["topics"]] == [
            ("alpha", "done", 5),
            ("beta", "skipped", None),
        ]

    def test_without_a_roadmap_it_lists_every_roadmap_i_marked(self):
        create_progress(user=self.user, topic=self.topic)
        create_topic(layer=create_layer(roadmap=create_roadmap(slug="untouched")))

        body = self.call("get", "/me/progress").json()

        assert [r["roadmap"] for r in body["roadmaps"]] == ["rm"]

    def test_another_users_token_sees_only_their_own_progress(self):
        create_progress(user=self.user, topic=self.topic, status="done")
        _, raw = ApiToken.issue(create_user(), "theirs")

        body = self.call("get", "/me/progress?roadmap=rm", token=raw).json()

        assert body["roadmaps"][0]["topics"] == []
        assert body["roadmaps"][0]["summary"]["done"] == 0
        assert self.call("get", "/me", token=raw).json()["username"] != "ada"

    def test_the_schema_documents_the_endpoints(self):
        paths = self.client.get("/api/v1/openapi.json").json()["paths"]
        assert {"/api/v1/me", "/api/v1/me/progress", "/api/v1/me/progress/{roadmap}/{topic}"} <= set(paths)
