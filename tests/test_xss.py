"""Uploads and Markdown that try to run script: an HTML file as an artifact, hostile file names,
every Markdown field, results documents and runner output with markup in their strings.

The permission matrix (tests/test_permissions.py) already renders every page with hostile text in
every field and checks that nothing runs; these tests go one level deeper: each field is shown
where it should be (so "nothing runs" is not "nothing shown"), and downloads are never rendered.
"""

from __future__ import annotations

import copy
import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse
from django.utils.html import escape

from accounts.models import Membership
from assessments.models import TopicNote
from portfolio import results
from portfolio.models import ArtifactVersion, Run
from portfolio.runner import protocol
from roadmap.models import ArtifactSpec
from tests.factories import (
    create_artifact,
    create_artifact_spec,
    create_assessment,
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
from tests.inert import HOSTILE_FILENAME, HOSTILE_MARKDOWN, HOSTILE_TEXT, script_in
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
        assert response.status_code == 400 and escape(name) in html and not script_in(html)
        assert escape(HOSTILE_TEXT) in html  # the notes are kept, as text


class MarkdownTests(World):
    """Every Markdown field, through each page that renders it, for each person who sees it."""

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.artifact = create_artifact(owner=cls.learner, notes=cls.text("artifact"))
        cls.version = create_version(artifact=cls.artifact, notes=cls.text("version"))
        cls.result = cls.artifact.add_results(results.SCHEMAS["generic"].example, notes=cls.text("results"))
        TopicNote.write(cls.learner, cls.topic, cls.text("topic"))
        create_assessment(user=cls.learner, layer=cls.layer, justification=cls.text("justification"))
        cls.request = create_gate_request(
            learner=cls.learner, gate=cls.gate, explanation=cls.text("explanation"), submit=True
        )
        # Sent back with a comment; the learner's explanation is then in the form again, as text.
        cls.returned = create_gate_request(learner=cls.learner, gate=create_gate(layer=create_layer()), submit=True)
        cls.returned.request_changes(by=cls.reviewer, comment=cls.text("comment"))

    @staticmethod
    def text(field: str) -> str:
        """A field's Markdown: a bold word that must render, then everything that must not run."""
        return f"**{field}-marker**\n\n{HOSTILE_MARKDOWN}"

    def test_markdown_fields_render_without_anything_that_runs(self):
        learner, reviewer = self.learner, self.reviewer
        topic = reverse("roadmap:topic-detail", args=["llm", self.topic.slug])
        assessment = reverse("assessments:assessment-detail", args=["llm", self.layer.slug])
        cases = [
            ("artifact", self.artifact.get_absolute_url(), (learner, reviewer)),
            ("version", self.artifact.get_absolute_url(), (learner, reviewer)),
            ("results", self.result.get_absolute_url(), (learner, reviewer)),
            ("topic", topic, (learner,)),
            ("topic", reverse("assessments:note-list"), (learner,)),
            ("justification", assessment, (learner,)),
            ("explanation", self.request.get_absolute_url(), (learner, reviewer)),
            ("explanation", self.request.get_review_url(), (reviewer,)),
            ("comment", self.returned.get_absolute_url(), (learner, reviewer)),
            ("comment", self.returned.get_review_url(), (reviewer,)),
        ]
        for field, url, viewers in cases:
            for who in viewers:
                with self.subTest(field=field, url=url, who=who.username):
                    assert f"<strong>{field}-marker</strong>" in self.page(who, url)

    def test_the_team_description_is_plain_text(self):
        self.team.description = HOSTILE_TEXT
        self.team.save()
        for url in (self.team.get_absolute_url(), reverse("teams:team-list")):
            assert escape(HOSTILE_TEXT) in self.page(self.learner, url)


class HostileResultsTests(World):
    """Results documents are the learner's JSON: every string in them is text on the page."""

    def upload(self, spec: ArtifactSpec | None, document: object) -> str:
        artifact = create_artifact(owner=self.learner, spec=spec)
        self.client.force_login(self.learner)
        response = self.client.post(
            reverse("portfolio:results-create", args=[artifact.pk]), {"text": json.dumps(document)}
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        return response["Location"]

    def test_hostile_strings_in_results_are_escaped_on_the_results_page(self):
        bench = copy.deepcopy(results.SCHEMAS["inference-benchmark"].example)
        for key in ("model", "dtype", "hardware", "engine", "engine_version"):
            bench["workload"][key] = f"{key} {HOSTILE_TEXT}"
        matrix = copy.deepcopy(results.SCHEMAS["serving-engine-matrix"].example)
        matrix["entries"][0]["label"] = HOSTILE_TEXT
        matrix["entries"][0]["features"] = {HOSTILE_TEXT: HOSTILE_TEXT}
        matrix["recommendation"] = HOSTILE_TEXT
        generic = {"summary": HOSTILE_TEXT, "metrics": {HOSTILE_TEXT: 1.0}}
        reasoning = copy.deepcopy(results.SCHEMAS["reasoning-eval"].example)
        reasoning["setup"]["paths"]["direct"] = HOSTILE_TEXT
        reasoning["questions"][0]["category"] = HOSTILE_TEXT
        specs = {
            "bench": create_artifact_spec(kind=ArtifactSpec.Kind.INFERENCE_BENCHMARK),
            "matrix": create_artifact_spec(),
            "reasoning": create_artifact_spec(),
        }
        for name, slug in (("matrix", "serving-engine-matrix"), ("reasoning", "reasoning-eval-harness")):
            specs[name].slug = slug
            specs[name].save()
        for what, spec, document in (
            ("inference benchmark", specs["bench"], bench),
            ("serving engine matrix", specs["matrix"], matrix),
            ("generic", None, generic),
            ("reasoning eval", specs["reasoning"], reasoning),
        ):
            with self.subTest(what):
                html = self.page(self.learner, self.upload(spec, document))
                assert escape(HOSTILE_TEXT) in html


class HostileRunOutputTests(World):
    """What a run reports comes partly from the learner's code (test messages, the log tail)."""

    def test_hostile_runner_output_is_text_on_the_run_page(self):
        run = create_run(version=create_version(artifact=create_runnable_artifact(owner=self.learner)))
        attempt = run.current_attempt
        result = protocol.build_result(
            attempt_id=attempt.pk,
            run_id=run.pk,
            outcome="completed",
            verdict="failed",
            message=HOSTILE_TEXT,
            score=0.0,
            max_score=1.0,
            tests=[protocol.make_test(HOSTILE_TEXT, "failed", message=HOSTILE_TEXT, observed=HOSTILE_TEXT)],
            environment={"device": HOSTILE_TEXT, "hostname": HOSTILE_TEXT},
            log_tail=f"Traceback\n{HOSTILE_TEXT}\n{HOSTILE_MARKDOWN}",
        )
        run.record_result(attempt.pk, result)
        assert Run.objects.get(pk=run.pk).message
        for who in (self.learner, self.reviewer):
            assert escape(HOSTILE_TEXT) in self.page(who, run.get_absolute_url())
