"""API tokens used wrongly: revoked, another user's things, a deactivated account, the token in
the wrong place. Each is refused (401, or 404 for things that are not yours) and stores nothing."""

from __future__ import annotations

import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase

from accounts.models import ApiToken
from portfolio import results
from portfolio.models import Artifact, ArtifactVersion, ResultUpload, Run
from tests.factories import OK_SCRIPT, create_run, create_runnable_artifact, create_token, create_user
from tests.portfolio.helpers import IsolatedMediaMixin, stored_files


class TokenMisuseTests(IsolatedMediaMixin, TestCase):
    def setUp(self) -> None:
        super().setUp()
        self.ada = create_user()
        self.token, self.raw = create_token(user=self.ada)
        self.theirs = create_runnable_artifact()
        self.their_run = create_run(version=None)
        self.files_before = stored_files()

    def calls(self, raw: str) -> dict[str, int]:
        """Every kind of API call on the portfolio, with `raw` as the bearer token."""
        auth = {"Authorization": f"Bearer {raw}"}
        mine = Artifact.objects.filter(owner=self.ada).first() or create_runnable_artifact(owner=self.ada)
        return {
            "create artifact": self.client.post(
                "/api/v1/artifacts", json.dumps({"title": "x"}), content_type="application/json", headers=auth
            ).status_code,
            "upload version": self.client.post(
                f"/api/v1/artifacts/{mine.pk}/versions",
                {"file": SimpleUploadedFile("main.py", OK_SCRIPT)},
                headers=auth,
            ).status_code,
            "upload results": self.client.post(
                f"/api/v1/artifacts/{mine.pk}/results",
                json.dumps({"document": results.SCHEMAS["inference-benchmark"].example}),
                content_type="application/json",
                headers=auth,
            ).status_code,
            "read run": self.client.get(f"/api/v1/runs/{self.their_run.pk}", headers=auth).status_code,
            "me": self.client.get("/api/v1/me", headers=auth).status_code,
        }

    def assert_nothing_stored(self) -> None:
        assert not ArtifactVersion.objects.filter(artifact__owner=self.ada).exists()
        assert not ResultUpload.objects.filter(artifact__owner=self.ada).exists()
        assert not Artifact.objects.filter(owner=self.ada, title="x").exists()
        assert stored_files() == self.files_before

    def test_a_revoked_token_is_refused_everywhere_at_once(self):
        assert self.client.get("/api/v1/me", headers={"Authorization": f"Bearer {self.raw}"}).status_code == 200
        self.token.revoke()
        assert set(self.calls(self.raw).values()) == {401}
        self.assert_nothing_stored()

    def test_a_deactivated_accounts_token_is_refused(self):
        self.ada.is_active = False
        self.ada.save()
        assert set(self.calls(self.raw).values()) == {401}
        self.assert_nothing_stored()

    def test_another_users_artifacts_and_runs_are_404_and_untouched(self):
        auth = {"Authorization": f"Bearer {self.raw}"}
        versions = self.client.post(
            f"/api/v1/artifacts/{self.theirs.pk}/versions",
            {"file": SimpleUploadedFile("main.py", OK_SCRIPT)},
            headers=auth,
        )
        posted = self.client.post(
            f"/api/v1/artifacts/{self.theirs.pk}/results",
            json.dumps({"document": results.SCHEMAS["inference-benchmark"].example}),
            content_type="application/json",
            headers=auth,
        )
        run = self.client.get(f"/api/v1/runs/{self.their_run.pk}", headers=auth)

        assert (versions.status_code, posted.status_code, run.status_code) == (404, 404, 404)
        assert not self.theirs.versions.exists() and not self.theirs.result_uploads.exists()
        assert Run.objects.count() == 1 and stored_files() == self.files_before

    def test_the_token_only_works_as_a_bearer_header(self):
        wrong_places = [
            self.client.get(f"/api/v1/me?token={self.raw}"),
            self.client.get("/api/v1/me", headers={"Authorization": f"Token {self.raw}"}),
            self.client.get("/api/v1/me", headers={"Authorization": self.raw}),
            self.client.get("/api/v1/me", headers={"X-Api-Token": self.raw}),
        ]
        assert [r.status_code for r in wrong_places] == [401] * 4

    def test_what_is_stored_about_a_token_does_not_work_as_one(self):
        for guess in (self.token.digest, self.token.hint, ApiToken.PREFIX, self.raw[:-1], self.raw + "x"):
            response = self.client.get("/api/v1/me", headers={"Authorization": f"Bearer {guess}"})
            assert response.status_code == 401, guess

    def test_a_token_stays_its_owners_whoever_sends_it(self):
        """A stolen token acts as its owner, never as the session's user: revoke it to stop it."""
        self.client.force_login(create_user(username="mallory"))
        response = self.client.get("/api/v1/me", headers={"Authorization": f"Bearer {self.raw}"})
        assert response.status_code == 200 and response.json()["username"] == self.ada.username
