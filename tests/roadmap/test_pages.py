from __future__ import annotations

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from roadmap.models import Roadmap
from tests.factories import (
    create_artifact_spec,
    create_gate,
    create_layer,
    create_level,
    create_roadmap,
    create_topic,
)


def grow(roadmap: Roadmap, *, layers: int, topics_per_layer: int) -> None:
    """Add layers of chained topics, gates, artifacts and levels to a roadmap."""
    previous = None
    start = roadmap.layers.count()
    for i in range(layers):
        layer = create_layer(roadmap=roadmap, number=start + i + 1)
        spec = create_artifact_spec(roadmap=roadmap, code=f"{start + i + 1:02d}")
        spec.layers.add(layer)
        level = create_level(roadmap=roadmap, number=min(start + i, 6)) if start + i <= 6 else None
        create_gate(layer=layer, level=level, artifacts=(spec,))
        for _ in range(topics_per_layer):
            previous = create_topic(layer=layer, prerequisites=(previous,) if previous else ())


class CataloguePageTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.roadmap = create_roadmap(slug="rm")
        grow(cls.roadmap, layers=2, topics_per_layer=3)

    def urls(self) -> list[str]:
        layer = self.roadmap.layers.first()
        topic = self.roadmap.topics.first()
        spec = self.roadmap.artifact_specs.first()
        return [
            reverse("roadmap:roadmap-list"),
            reverse("roadmap:roadmap-detail", args=["rm"]),
            reverse("roadmap:layer-detail", args=["rm", layer.slug]),
            reverse("roadmap:topic-detail", args=["rm", topic.slug]),
            reverse("roadmap:artifact-list", args=["rm"]),
            reverse("roadmap:artifact-detail", args=["rm", spec.code]),
            reverse("roadmap:level-list", args=["rm"]),
            reverse("roadmap:path-list", args=["rm"]),
            reverse("roadmap:checklist-list", args=["rm"]),
            reverse("roadmap:resource-list", args=["rm"]),
        ]

    def test_every_catalogue_page_is_public(self):
        for url in self.urls():
            response = self.client.get(url)
            assert response.status_code == 200, url

    def test_unknown_roadmaps_and_topics_are_404(self):
        assert self.client.get("/roadmaps/nope/").status_code == 404
        assert self.client.get(reverse("roadmap:topic-detail", args=["rm", "nope"])).status_code == 404

    def test_retired_layers_are_hidden(self):
        layer = self.roadmap.layers.first()
        layer.retired = True
        layer.save()

        assert self.client.get(layer.get_absolute_url()).status_code == 404
        self.assertNotContains(self.client.get(self.roadmap.get_absolute_url()), f'id="layer-{layer.slug}"')

    def test_query_counts_do_not_grow_with_the_content(self):
        urls = self.urls()
        small = [self._queries(url) for url in urls]

        grow(self.roadmap, layers=4, topics_per_layer=12)
        large = [self._queries(url) for url in urls]

        assert small == large, list(zip(urls, small, large, strict=True))

    def _queries(self, url: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = self.client.get(url)
        assert response.status_code == 200, url
        return len(ctx)


class RoadmapPageTests(TestCase):
    def test_the_roadmap_page_draws_the_graph_with_a_link_per_topic(self):
        roadmap = create_roadmap(slug="rm")
        layer = create_layer(roadmap=roadmap)
        a = create_topic(layer=layer, title="Tokens & <things>")
        create_topic(layer=layer, prerequisites=(a,))

        response = self.client.get(roadmap.get_absolute_url())

        self.assertContains(response, 'class="topic-graph"', count=1)
        # A box opens the topic in the page's side panel; the panel links to the topic's own page.
        self.assertContains(response, f'href="/roadmaps/rm/?topic={a.slug}#topic-panel"', count=2)
        self.assertContains(response, "Tokens &amp; &lt;things&gt;")
        self.assertNotContains(response, "<things>")

    def test_the_graph_draws_current_prerequisites_only(self):
        layer = create_layer(roadmap=create_roadmap(slug="rm"))
        a = create_topic(layer=layer)
        gone = create_topic(layer=layer, retired=True)
        b = create_topic(layer=layer, prerequisites=(a, gone))

        response = self.client.get(layer.roadmap.get_absolute_url())

        self.assertContains(response, f'data-from="{a.pk}" data-to="{b.pk}"', count=1)
        self.assertNotContains(response, f'data-from="{gone.pk}"')

    def test_topic_markdown_is_sanitised(self):
        topic = create_topic(body="Hi <script>alert(1)</script> [x](javascript:alert(2)) <img src=x onerror=alert(3)>")

        response = self.client.get(topic.get_absolute_url())

        self.assertNotContains(response, "<script>alert(1)")
        self.assertNotContains(response, "javascript:")
        self.assertNotContains(response, "onerror")
