"""The roadmap page as a place to work: a side panel for one topic, search and filters, a phone list."""

from __future__ import annotations

from django.test import TestCase

from tests.factories import create_layer, create_roadmap, create_topic


class TopicPanelTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.roadmap = create_roadmap(slug="rm")
        cls.first = create_layer(roadmap=cls.roadmap, number=1, slug="one", title="Foundations")
        cls.second = create_layer(roadmap=cls.roadmap, number=2, slug="two", title="Serving")
        cls.tokens = create_topic(layer=cls.first, slug="tokens", title="Tokenization", summary="Text to ids.")
        cls.cache = create_topic(layer=cls.second, slug="kv-cache", title="KV cache", prerequisites=(cls.tokens,))
        cls.url = cls.roadmap.get_absolute_url()

    def test_a_topic_in_the_query_opens_the_side_panel_beside_the_graph(self):
        response = self.client.get(self.url, {"topic": "kv-cache"})

        self.assertContains(response, 'class="topic-graph"', count=1)
        self.assertContains(response, '<h3 class="panel-title">KV cache</h3>', html=False)
        self.assertContains(response, f'href="{self.cache.get_absolute_url()}">Open the page</a>')
        # Its prerequisite opens in the panel too, and the focused topic's edge is the one drawn.
        self.assertContains(response, 'href="/roadmaps/rm/?topic=tokens#topic-panel">Tokenization</a> <span')
        self.assertContains(response, 'class="far is-focus"')
        self.assertContains(response, f'id="node-kv-cache" data-layer="{self.second.pk}" aria-current="true"')

    def test_without_a_topic_the_panel_asks_for_one_and_no_edge_is_focused(self):
        response = self.client.get(self.url)

        self.assertContains(response, "Pick a topic")
        self.assertNotContains(response, "is-focus")

    def test_htmx_gets_the_panel_alone(self):
        response = self.client.get(self.url, {"topic": "tokens"}, headers={"HX-Request": "true"})

        assert response.status_code == 200
        html = response.content.decode()
        assert html.lstrip().startswith('<aside id="topic-panel"'), html[:200]
        assert "Text to ids." in html and "<html" not in html and "topic-graph" not in html

    def test_an_unknown_topic_is_a_404(self):
        assert self.client.get(self.url, {"topic": "no-such-topic"}).status_code == 404

    def test_a_search_dims_the_boxes_that_do_not_match_and_shortens_the_list(self):
        response = self.client.get(self.url, {"q": "KV"})

        self.assertContains(response, "1 of 2 topics match")
        self.assertContains(response, f'id="node-tokens" data-layer="{self.first.pk}" data-match="no"')
        self.assertNotContains(response, f'id="node-kv-cache" data-layer="{self.second.pk}" data-match="no"')
        self.assertContains(response, 'href="/roadmaps/rm/?q=KV&amp;topic=kv-cache#topic-panel">KV cache</a></li>')
        self.assertNotContains(response, ">Tokenization</a></li>")

    def test_a_layer_filter_keeps_that_layers_topics(self):
        response = self.client.get(self.url, {"layer": "one"})

        self.assertContains(response, "1 of 2 topics match")
        self.assertContains(response, f'id="node-kv-cache" data-layer="{self.second.pk}" data-match="no"')

    def test_an_unknown_layer_is_a_400_that_names_the_field(self):
        response = self.client.get(self.url, {"layer": "nine", "q": "kv"})

        assert response.status_code == 400
        self.assertContains(response, "Layer: Select a valid choice.", status_code=400)
        self.assertContains(response, 'value="kv"', status_code=400)  # what was typed is kept

    def test_visitors_get_no_status_filter(self):
        response = self.client.get(self.url)

        self.assertNotContains(response, 'name="status"')
        self.assertContains(response, 'name="layer"')

    def test_the_phone_list_has_every_topic_under_its_layer(self):
        response = self.client.get(self.url)

        self.assertContains(response, '<h3 id="list-one">Layer 1 · Foundations</h3>', html=False)
        self.assertContains(response, 'href="/roadmaps/rm/?topic=tokens#topic-panel">Tokenization</a></li>')
        self.assertContains(response, 'href="/roadmaps/rm/?topic=kv-cache#topic-panel">KV cache</a></li>')
