"""What a learner studies from on the public pages: a topic's typed resources and self-checks, a
path's outside prerequisites, an artifact's template downloads, the gate that checks each ability."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from roadmap.content.read import templates_dir
from roadmap.models import LearningPath, Resource, Topic
from tests.factories import create_artifact_spec, create_layer, create_level, create_roadmap, create_topic


def add_resources(topic: Topic, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        resource = Resource.objects.create(
            roadmap=topic.roadmap, title=f"Source {i}", url=f"https://www.example.org/r/{i}", kind="video", order=i
        )
        resource.topics.add(topic)


class TopicPageTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.roadmap = create_roadmap(slug="rm")
        cls.topic = create_topic(
            layer=create_layer(roadmap=cls.roadmap, number=1),
            self_check=["Why does the cache grow with the context?", "What does <b>this</b> cost?"],
        )

    def get(self):
        return self.client.get(reverse("roadmap:topic-detail", args=["rm", self.topic.slug]))

    def test_it_lists_resources_typed_with_their_source_and_the_self_checks(self):
        add_resources(self.topic, 2)

        html = self.get().content.decode()

        assert '<a href="https://www.example.org/r/1" rel="noopener">Source 1</a>' in html
        assert '<span class="pill">Video</span> <span class="muted small">example.org</span>' in html
        assert "Check yourself" in html and "Not graded" in html
        assert "<li>Why does the cache grow with the context?</li>" in html
        assert "What does &lt;b&gt;this&lt;/b&gt; cost?" in html

    def test_a_topic_without_self_checks_shows_no_empty_section(self):
        Topic.objects.filter(pk=self.topic.pk).update(self_check=[])

        assert "Check yourself" not in self.get().content.decode()

    def test_queries_do_not_grow_with_resources_or_questions(self):
        add_resources(self.topic, 2)
        with CaptureQueriesContext(connection) as small:
            self.get()
        add_resources(self.topic, 20, start=2)
        Topic.objects.filter(pk=self.topic.pk).update(self_check=[f"Question {i}?" for i in range(3)])

        with self.assertNumQueries(len(small)):
            response = self.get()

        assert response.content.decode().count('rel="noopener">Source') == 22


class PathPageTests(TestCase):
    def test_it_lists_the_outside_prerequisites(self):
        roadmap = create_roadmap(slug="rm")
        layer = create_layer(roadmap=roadmap, number=1)
        before = create_topic(layer=layer, title="Tokenization")
        step = create_topic(layer=layer, prerequisites=(before,))
        path = LearningPath.objects.create(roadmap=roadmap, slug="serve", title="Serve")
        path.steps.create(topic=step, order=0)
        path.outside_prerequisites.add(before)

        html = self.client.get(reverse("roadmap:path-detail", args=["rm", "serve"])).content.decode()

        assert "Study first" in html
        assert f'<a href="{before.get_absolute_url()}">Tokenization</a>' in html

    def test_a_path_with_none_shows_no_section(self):
        roadmap = create_roadmap(slug="rm")
        LearningPath.objects.create(roadmap=roadmap, slug="serve", title="Serve")

        assert (
            "Study first" not in self.client.get(reverse("roadmap:path-detail", args=["rm", "serve"])).content.decode()
        )


class TemplateDownloadTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.roadmap = create_roadmap(slug="rm")
        cls.spec = create_artifact_spec(
            roadmap=cls.roadmap, code="16", templates=[{"title": "Cost model template", "file": "cost-model.md"}]
        )

    def url(self, name: str) -> str:
        return f"/roadmaps/rm/artifacts/16/templates/{name}"

    def test_the_artifact_page_offers_its_templates(self):
        html = self.client.get(reverse("roadmap:artifact-detail", args=["rm", "16"])).content.decode()

        assert f'href="{self.url("cost-model.md")}" download>Cost model template</a>' in html

    def test_a_template_downloads_as_markdown(self):
        response = self.client.get(self.url("cost-model.md"))

        assert response.status_code == 200
        assert response["Content-Type"] == "text/markdown; charset=utf-8"
        assert response["Content-Disposition"] == 'attachment; filename="cost-model.md"'
        assert response["X-Content-Type-Options"] == "nosniff"
        expected = (templates_dir(settings.CONTENT_DIR) / "cost-model.md").read_bytes()
        assert b"".join(response.streaming_content) == expected

    def test_a_file_not_offered_or_outside_the_folder_is_404(self):
        names = ["rag-eval.md", "README.md", "..", "%2e%2e%2froadmaps%2fllm-systems-engineering%2froadmap.yaml", "x"]
        names += ["..%2F..%2Fconfig%2Fsettings.py", "%2Fetc%2Fpasswd"]
        for name in names:
            assert self.client.get(self.url(name)).status_code == 404, name
        assert self.client.get("/roadmaps/rm/artifacts/99/templates/cost-model.md").status_code == 404
        assert self.client.get("/roadmaps/nope/artifacts/16/templates/cost-model.md").status_code == 404

    def test_an_offered_name_that_leaves_the_folder_is_still_404(self):
        # The loader refuses such names; the view does not rely on it.
        self.spec.templates = [{"title": "Up", "file": ".."}, {"title": "Here", "file": "."}]
        self.spec.save()

        assert self.client.get(self.url("..")).status_code == 404
        assert self.client.get(self.url(".")).status_code == 404

    def test_only_get_is_allowed(self):
        assert self.client.post(self.url("cost-model.md")).status_code == 405


class LevelPageTests(TestCase):
    def test_each_ability_names_the_gate_that_checks_it(self):
        roadmap = create_roadmap(slug="rm")
        layer = create_layer(roadmap=roadmap, number=9, title="RAG Systems")
        create_level(
            roadmap=roadmap,
            number=1,
            abilities=["builds simple RAG", "smiles"],
            ability_gates={"builds simple RAG": layer.slug, "smiles": None},
        )

        html = self.client.get(reverse("roadmap:level-list", args=["rm"])).content.decode()

        gate = f'checked by the gate of <a href="{layer.get_absolute_url()}#gate">{layer.label} RAG Systems</a>'
        assert f'<li>builds simple RAG <span class="small muted">· {gate}</span></li>' in html
        assert "<li>smiles</li>" in html
