"""Runs started per learner are limited (GPU time is scarce): on the upload page, "Run this
version", "Run again" and the API, each with a message that says when to come back. An upload
past the limit is kept on both fronts; only its run waits."""

from __future__ import annotations

from unittest.mock import patch

from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase, override_settings

from portfolio.models import ArtifactVersion, Run, RunRefused
from tests.factories import (
    OK_SCRIPT,
    create_artifact,
    create_run,
    create_runnable_artifact,
    create_token,
    create_version,
)
from tests.portfolio.helpers import IsolatedMediaMixin


def finish(run: Run) -> None:
    """End a run so the queue cap (runs waiting at once) is not what refuses the next one."""
    run.cancel(by=run.version.artifact.owner)


@override_settings(RATE_LIMITS={"run-submissions": "2/1h"}, RUNNER_MAX_QUEUED_PER_USER=10)
class RunRateLimitTests(IsolatedMediaMixin, TestCase):
    def setUp(self) -> None:
        super().setUp()
        # The limit counts in fixed hourly windows: a test that straddled the top of the hour (or ran
        # in its last minute, when the message says "1 minute") would fail for no reason. Ten minutes
        # into a window, every test of the class sees one window with 50 minutes left.
        clock = patch("core.ratelimit.time.time", return_value=1_800_000_600.0)
        clock.start()
        self.addCleanup(clock.stop)
        self.artifact = create_runnable_artifact()
        self.owner = self.artifact.owner
        self.version = create_version(artifact=self.artifact)

    def use_up_the_limit(self) -> None:
        for _ in range(2):
            finish(self.version.request_run(by=self.owner))

    def test_past_the_limit_a_run_is_refused_with_when_to_try_again(self):
        self.use_up_the_limit()
        with self.assertRaises(RunRefused) as refused:
            self.version.request_run(by=self.owner)
        message = refused.exception.message
        assert message.startswith("You have started 2 runs in the last hour, the most allowed.")
        assert "Version 1 is saved; run it in " in message and message.endswith("minutes.")
        assert 0 < (refused.exception.retry_after or 0) <= 3600
        assert Run.objects.count() == 2

    def test_the_limit_is_per_learner(self):
        self.use_up_the_limit()
        other = create_runnable_artifact()
        assert create_run(version=create_version(artifact=other)).pk

    def test_an_upload_past_the_limit_keeps_the_version_and_says_why_it_did_not_run(self):
        self.use_up_the_limit()
        self.client.force_login(self.owner)
        response = self.client.post(
            f"/artifacts/{self.artifact.pk}/versions/new/", {"file": SimpleUploadedFile("main.py", b"print(2)\n")}
        )
        assert response.status_code == 302 and response["Location"] == self.artifact.get_absolute_url()
        assert self.artifact.versions.count() == 2 and Run.objects.count() == 2
        texts = [str(m) for m in get_messages(response.wsgi_request)]
        assert any(t.startswith("You have started 2 runs in the last hour") for t in texts), texts

    def test_run_this_version_and_run_again_are_refused_with_the_message(self):
        self.use_up_the_limit()
        self.client.force_login(self.owner)
        run = Run.objects.first()
        for url in (f"/artifacts/{self.artifact.pk}/versions/1/run/", f"/runs/{run.pk}/rerun/"):
            response = self.client.post(url, follow=True)
            self.assertContains(response, "You have started 2 runs in the last hour")
        assert Run.objects.count() == 2

    def test_the_api_keeps_the_upload_and_says_why_it_did_not_run_with_retry_after(self):
        """Refusing before storing would lose the upload; like the page, the API keeps the version
        and answers 201 with `run: null`, the refusal and when runs may start again."""
        self.use_up_the_limit()
        _, raw = create_token(user=self.owner)

        response = self.client.post(
            f"/api/v1/artifacts/{self.artifact.pk}/versions",
            {"file": SimpleUploadedFile("main.py", b"print(3)\n")},
            headers={"Authorization": f"Bearer {raw}"},
        )

        assert response.status_code == 201, response.content
        body = response.json()
        assert body["number"] == 2 and body["run"] is None
        assert body["run_refused"].startswith("You have started 2 runs in the last hour, the most allowed.")
        assert "Version 2 is saved; run it in " in body["run_refused"]
        assert 0 < body["retry_after"] <= 3600 and response["Retry-After"] == str(body["retry_after"])
        assert ArtifactVersion.objects.filter(artifact=self.artifact).count() == 2 and Run.objects.count() == 2

    def test_the_page_and_the_api_give_the_same_answer_past_the_limit(self):
        page_artifact, api_artifact = create_runnable_artifact(), create_runnable_artifact()
        _, raw = create_token(user=api_artifact.owner)
        self.client.force_login(page_artifact.owner)
        for artifact in (page_artifact, api_artifact):
            version = create_version(artifact=artifact)
            for _ in range(2):
                finish(version.request_run(by=artifact.owner))
        page = self.client.post(
            f"/artifacts/{page_artifact.pk}/versions/new/", {"file": SimpleUploadedFile("main.py", b"print(4)\n")}
        )
        api = self.client.post(
            f"/api/v1/artifacts/{api_artifact.pk}/versions",
            {"file": SimpleUploadedFile("main.py", b"print(4)\n")},
            headers={"Authorization": f"Bearer {raw}"},
        )

        warnings = [str(m) for m in get_messages(page.wsgi_request) if m.level_tag == "warning"]
        assert warnings == [api.json()["run_refused"]], (warnings, api.json())
        assert api.json()["retry_after"] == int(api["Retry-After"]) > 0
        assert page_artifact.versions.count() == api_artifact.versions.count() == 2

    def test_the_api_still_takes_a_link_which_never_runs(self):
        self.use_up_the_limit()
        _, raw = create_token(user=self.owner)
        response = self.client.post(
            f"/api/v1/artifacts/{self.artifact.pk}/versions",
            {"link": "https://example.com/my-notes"},
            headers={"Authorization": f"Bearer {raw}"},
        )
        assert response.status_code == 201 and response.json()["run"] is None

    def test_uploads_of_specs_that_never_run_are_not_limited(self):
        self.use_up_the_limit()
        self.client.force_login(self.owner)
        notes = create_artifact(owner=self.owner)
        response = self.client.post(
            f"/artifacts/{notes.pk}/versions/new/", {"file": SimpleUploadedFile("notes.md", OK_SCRIPT)}
        )
        assert response.status_code == 302 and notes.versions.count() == 1
