"""One click in a real browser: the htmx status controls and the graph's marking mode."""

from __future__ import annotations

import os
import shutil

import pytest
from django.contrib.staticfiles.testing import StaticLiveServerTestCase

from assessments.models import TopicProgress
from tests.factories import create_layer, create_roadmap, create_topic, create_user

pytestmark = pytest.mark.browser
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")


# Skipped without Chromium, except where LAYERWISE_REQUIRE_BROWSER (make test, CI) says it must run.
@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("LAYERWISE_REQUIRE_BROWSER"),
    reason="needs chromium (apt-get install chromium)",
)
class OneClickTests(StaticLiveServerTestCase):
    @classmethod
    def setUpClass(cls):
        # Playwright's sync API runs an event loop in this thread; the ORM calls here are still synchronous.
        cls._async_unsafe = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        super().setUpClass()
        from playwright.sync_api import sync_playwright

        cls.playwright = sync_playwright().start()
        cls.browser = cls.playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()
        cls.playwright.stop()
        super().tearDownClass()
        if cls._async_unsafe is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = cls._async_unsafe

    def setUp(self):
        self.user = create_user()
        self.roadmap = create_roadmap(slug="rm")
        self.layer = create_layer(roadmap=self.roadmap, slug="basics")
        self.first = create_topic(layer=self.layer, slug="first")
        self.second = create_topic(layer=self.layer, slug="second", prerequisites=(self.first,))
        self.client.force_login(self.user)
        context = self.browser.new_context()
        context.add_cookies(
            [{"name": "sessionid", "value": self.client.cookies["sessionid"].value, "url": self.live_server_url}]
        )
        self.page = context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.addCleanup(context.close)

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
        self.page.wait_for_function("document.querySelector('#node-second').classList.contains('status-learning')")
        self.page.wait_for_function(
            "document.querySelector('#roadmap-progress-rm .stat.status-learning dd').textContent.trim() === '1'"
        )

        assert self.page.url == self.live_server_url + self.roadmap.get_absolute_url()
        assert TopicProgress.objects.get(user=self.user).status == "learning"
        assert self.errors == []
