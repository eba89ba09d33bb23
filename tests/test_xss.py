"""Uploads and Markdown that try to run script: an HTML file as an artifact, hostile file names,
every Markdown field, results documents and runner output with markup in their strings.

The permission matrix (tests/test_permissions.py) already renders every page with hostile text in
every field and checks that nothing runs; these tests go one level deeper: each field is shown
where it should be (so "nothing runs" is not "nothing shown"), and downloads are never rendered.
"""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse
from django.utils.html import escape

from accounts.models import Membership
from portfolio.models import ArtifactVersion
from tests.factories import (
    create_artifact,
    create_gate,
    create_gate_request,
    create_layer,
    create_level,
    create_roadmap,
    create_run,
    create_runnable_artifact,
    create_team,
    create_topic,
    create_user,
    create_version,
)
from tests.inert import HOSTILE_FILENAME, HOSTILE_TEXT, script_in
from tests.portfolio.helpers import IsolatedMediaMixin

HTML_FILE = "<script>.html"
HTML_BODY = b"<!doctype html><script>alert(document.cookie)</script>"


class World(TestCase):
    """A learner in a team with a reviewer; a gate of a layer with a topic."""

    @classmethod
    def setUpTestData(cls) -> None:
        roadmap = create_roadmap(slug="llm")
        cls.layer = create_layer(roadmap=roadmap, slug="kv-cache")
        cls.topic = create_topic(layer=cls.layer, slug="paged-attention")
        cls.gate = create_gate(layer=cls.layer, level=create_level(roadmap=roadmap, number=1))
        cls.learner = create_user(username="ada")
        cls.reviewer = create_user(username="rita")
        cls.team = create_team(members={cls.learner: Membership.Role.MEMBER, cls.reviewer: Membership.Role.REVIEWER})

    def page(self, who, url: str) -> str:
        self.client.force_login(who)
        response = self.client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        html = response.content.decode()
        assert not script_in(html), (url, script_in(html))
        return html


class DownloadTests(IsolatedMediaMixin, World):
    def upload_html_file(self) -> ArtifactVersion:
        artifact = create_artifact(owner=self.learner, title="A write-up")
        self.client.force_login(self.learner)
        url = reverse("portfolio:version-create", args=[artifact.pk])
        response = self.client.post(url, {"file": SimpleUploadedFile(HTML_FILE, HTML_BODY), "notes": ""})
        assert response.status_code == 302
        return artifact.versions.get()

    def test_an_html_file_is_downloaded_as_an_attachment_and_never_as_html(self):
        version = self.upload_html_file()
        for who in (self.learner, self.reviewer):
            self.client.force_login(who)
            response = self.client.get(version.get_download_url())
            assert response.status_code == 200
            assert b"".join(response.streaming_content) == HTML_BODY  # the exact bytes, unchanged
            assert response["Content-Disposition"].startswith("attachment;")
            assert response["Content-Type"] == "application/octet-stream"
            assert response["X-Content-Type-Options"] == "nosniff"
            assert "sandbox" in response["Content-Security-Policy"]

    def test_the_file_name_is_escaped_on_every_page_that_shows_it(self):
        artifact = create_artifact(owner=self.learner, spec=None, title="Calculator")
        version = create_version(artifact=artifact, filename=HOSTILE_FILENAME)
        run = create_run(version=create_version(artifact=create_runnable_artifact(owner=self.learner)))
        request = create_gate_request(learner=self.learner, gate=self.gate, versions=(version,), submit=True)
        shown = escape(HOSTILE_FILENAME)
        for who, url in (
            (self.learner, artifact.get_absolute_url()),
            (self.reviewer, artifact.get_absolute_url()),
            (self.learner, request.get_absolute_url()),
            (self.reviewer, request.get_review_url()),
        ):
            with self.subTest(url=url, who=who.username):
                assert shown in self.page(who, url)
        for url in (reverse("portfolio:artifact-list"), run.get_absolute_url(), reverse("gates:request-list")):
            self.page(self.learner, url)

    def test_a_refused_file_is_named_escaped(self):
        artifact = create_artifact(owner=self.learner)
        self.client.force_login(self.learner)
        name = "<img src=x onerror=alert(1)>.zip"
        response = self.client.post(
            reverse("portfolio:version-create", args=[artifact.pk]),
            {"file": SimpleUploadedFile(name, b"not a zip"), "notes": HOSTILE_TEXT},
        )
        html = response.content.decode()
        assert response.status_code == 200 and escape(name) in html and not script_in(html)
        assert escape(HOSTILE_TEXT) in html  # the notes are kept, as text
