"""One click in a real browser: the htmx status controls and the graph's marking mode."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from assessments.models import TopicProgress
from tests.browser.support import BrowserTestCase
from tests.factories import create_layer, create_roadmap, create_topic, create_user

pytestmark = pytest.mark.browser


class OneClickTests(BrowserTestCase):
    def setUp(self):
        super().setUp()
        self.user = create_user()
        self.roadmap = create_roadmap(slug="rm")
        self.layer = create_layer(roadmap=self.roadmap, slug="basics")
        self.first = create_topic(layer=self.layer, slug="first")
        self.second = create_topic(layer=self.layer, slug="second", prerequisites=(self.first,))
        self.page = self.page_as(self.user)

    def test_a_status_button_updates_the_row_and_the_layer_without_a_reload(self):
        self.page.goto(self.live_server_url + self.layer.get_absolute_url())
        self.page.evaluate("window.notReloaded = true")

        self.page.click("#status-first-done")
        self.page.wait_for_selector('#status-first-done[aria-pressed="true"]')
        self.page.click("#confidence-first-4")
        self.page.wait_for_selector('#confidence-first-4[aria-pressed="true"]')

        assert self.page.evaluate("window.notReloaded") is True
        assert "1 done" in self.page.inner_text("#layer-progress-basics")
        progress = TopicProgress.objects.get(user=self.user)
        assert (progress.status, progress.confidence) == ("done", 4)
        assert self.errors == []

    def test_marking_mode_colours_the_graph_node_and_updates_the_totals(self):
        self.page.goto(self.live_server_url + self.roadmap.get_absolute_url())

        self.page.click("label.seg.status-learning")
        self.page.click("#node-second")
        # expect() polls without evaluating a string as JavaScript, which the pages' CSP forbids.
        expect(self.page.locator("#node-second")).to_have_class(re.compile(r"\bstatus-learning\b"))
        expect(self.page.locator("#roadmap-progress-rm .stat.status-learning dd")).to_have_text("1")

        assert self.page.url == self.live_server_url + self.roadmap.get_absolute_url()
        assert TopicProgress.objects.get(user=self.user).status == "learning"
        assert self.errors == []
