from __future__ import annotations

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext

from tests.factories import (
    create_artifact_spec,
    create_gate,
    create_layer,
    create_level,
    create_roadmap,
    create_topic,
)


class RoadmapApiTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.roadmap = create_roadmap(slug="rm", title="RM", source_url="https://example.com")
        level = create_level(roadmap=cls.roadmap, number=1, title="Basics")
        cls.layer = create_layer(roadmap=cls.roadmap, number=1, slug="first", title="First")
        spec = create_artifact_spec(roadmap=cls.roadmap, code="09", kind="kv_calculator")
        spec.layers.add(cls.layer)
        create_gate(layer=cls.layer, level=level, artifacts=(spec,))
        a = create_topic(layer=cls.layer, slug="a")
        create_topic(layer=cls.layer, slug="b", prerequisites=(a,))
        create_topic(layer=cls.layer, slug="gone", retired=True)

    def test_it_lists_roadmaps_without_a_token(self):
        response = self.client.get("/api/v1/roadmaps")

        assert response.status_code == 200
        [item] = response.json()
        assert item["slug"] == "rm"
        assert item["topic_count"] == 2
        assert item["layer_count"] == 1

    def test_a_roadmap_has_layers_topics_gates_artifacts_and_levels(self):
        data = self.client.get("/api/v1/roadmaps/rm").json()

        [layer] = data["layers"]
        assert layer["slug"] == "first" and layer["number"] == 1
        assert layer["core_question"]
        assert [t["slug"] for t in layer["topics"]] == ["a", "b"]
        assert layer["topics"][1]["prerequisites"] == ["a"]
        assert layer["gate"]["required_artifacts"] == ["09"]
        assert layer["gate"]["level"] == 1
        [artifact] = data["artifacts"]
        assert artifact == {
            "code": "09",
            "slug": artifact["slug"],
            "title": artifact["title"],
            "purpose": "Prove something.",
            "kind": "kv_calculator",
            "runnable": True,
            "layers": ["first"],
            "templates": [],
        }
        assert data["competency_levels"][0]["gates"] == ["first"]
        assert data["learning_paths"] == []

    def test_an_unknown_slug_is_a_json_404_that_says_what(self):
        response = self.client.get("/api/v1/roadmaps/nope")

        assert response.status_code == 404
        assert "nope" in response.json()["message"]

    def test_the_openapi_schema_describes_the_roadmap_endpoints(self):
        schema = self.client.get("/api/v1/openapi.json").json()

        assert "/api/v1/roadmaps" in schema["paths"]
        assert "/api/v1/roadmaps/{slug}" in schema["paths"]

    def test_the_query_count_does_not_grow_with_topics(self):
        with CaptureQueriesContext(connection) as small:
            self.client.get("/api/v1/roadmaps/rm")
        previous = None
        for n in range(4):
            layer = create_layer(roadmap=self.roadmap, number=10 + n)
            for i in range(5):
                previous = create_topic(
                    layer=layer,
                    slug=f"more-{n}-{i}",
                    prerequisites=(previous,) if previous else (),
                )

        with self.assertNumQueries(len(small)):
            self.client.get("/api/v1/roadmaps/rm")
