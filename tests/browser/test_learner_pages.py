"""The learner's pages in a real browser at 390 px (a phone) and 1,280 px, light and dark: no sideways
scrolling, no console error, and the roadmap's side panel opened by a click and by a tap. Screenshots
go to $TEST_ARTIFACTS/browser/learner-pages/ (test-artifacts/ in the checkout otherwise)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Membership
from assessments.models import SelfAssessment
from tests.browser.support import SIZES, BrowserTestCase, screenshot_folder
from tests.factories import (
    create_artifact,
    create_artifact_spec,
    create_assessment,
    create_layer,
    create_progress,
    create_roadmap,
    create_team,
    create_topic,
    create_user,
)

pytestmark = pytest.mark.browser


class LearnerPagesBrowserTests(BrowserTestCase):
    def setUp(self):
        super().setUp()
        self.roadmap = create_roadmap(slug="llm-systems-engineering", title="LLM Systems Engineering")
        layers = [
            create_layer(roadmap=self.roadmap, number=n, slug=f"layer-{n}", title=f"Layer title {n}")
            for n in range(1, 13)
        ]
        self.first = create_topic(layer=layers[0], slug="tokenization", title="Tokenization", summary="Text to ids.")
        self.second = create_topic(
            layer=layers[6], slug="kv-cache", title="KV cache memory", prerequisites=(self.first,)
        )
        for n, layer in enumerate(layers[1:6], start=1):
            create_topic(layer=layer, title=f"A topic with a rather long title number {n}", prerequisites=(self.first,))
        self.learner = create_user(username="ada", display_name="Ada Learner")
        lead = create_user(username="lena", display_name="Lena Lead")
        self.team = create_team(
            name="Inference", members={self.learner: Membership.Role.MEMBER, lead: Membership.Role.LEAD}
        )
        self.lead = lead
        create_progress(user=self.learner, topic=self.first, status="done", confidence=4)
        create_assessment(user=self.learner, layer=layers[0], level=2)
        spec = create_artifact_spec(roadmap=self.roadmap, code="09", title="A spec with a long enough name to wrap")
        create_artifact(owner=self.learner, spec=spec, title="My calculator with a long descriptive title")
        self.shots = screenshot_folder("learner-pages")

    def test_the_learners_pages_fit_a_phone_and_a_desktop(self):
        pages = {
            "roadmaps": "/",
            "roadmap": self.roadmap.get_absolute_url(),
            "roadmap-panel": f"{self.roadmap.get_absolute_url()}?topic=kv-cache",
            "artifact-catalogue": reverse("roadmap:artifact-list", args=[self.roadmap.slug]),
            "dashboard": reverse("assessments:dashboard"),
            "my-artifacts": reverse("portfolio:artifact-list"),
            "layer": self.first.layer.get_absolute_url(),
            "self-assessment": reverse("assessments:assessment-detail", args=[self.roadmap.slug, "layer-2"]),
            "new-artifact": reverse("portfolio:artifact-create"),
        }
        for name, path in pages.items():
            with self.subTest(name):
                self.look(self.learner, path, self.shots, name)
                assert self.errors == []

    def test_the_team_matrix_fits_and_shows_layers_9_to_12_at_1280(self):
        from playwright.sync_api import expect

        path = reverse("teams:team-matrix", args=[self.team.slug])
        self.look(self.lead, path, self.shots, "team-matrix")
        assert self.errors == []
        page = self.page_as(self.lead, viewport=SIZES["desktop"])
        page.goto(self.live_server_url + path)
        scroller = page.locator(".matrix-scroll")
        assert scroller.evaluate("el => el.scrollWidth - el.clientWidth") <= 0
        expect(page.locator(".matrix-layer a", has_text="12")).to_be_in_viewport()

    def test_a_click_opens_a_topic_beside_the_graph(self):
        from playwright.sync_api import expect

        page = self.page_as(self.learner, viewport=SIZES["desktop"])
        page.goto(self.live_server_url + self.roadmap.get_absolute_url())
        expect(page.locator("#topic-panel")).to_contain_text("Pick a topic")
        page.locator("#node-kv-cache").click()

        expect(page.locator("#topic-panel .panel-title")).to_have_text("KV cache memory")
        expect(page.locator("#topic-panel")).to_contain_text("Tokenization")
        assert "topic=kv-cache" in page.url
        expect(page.locator("svg.topic-graph")).to_be_visible()
        expect(page.locator(".graph-edges path.is-focus")).to_have_count(1)
        # The prerequisite opens in the same panel; its status can be changed there.
        page.locator("#topic-panel a", has_text="Tokenization").click()
        expect(page.locator("#topic-panel .panel-title")).to_have_text("Tokenization")
        page.locator("#topic-panel button", has_text="Learning").click()
        expect(page.locator("#node-tokenization")).to_have_class("graph-node status-learning")
        page.screenshot(path=self.shots / "roadmap-panel-clicked-desktop.png")
        assert self.errors == []

    def test_on_a_phone_a_list_replaces_the_graph_and_a_tap_opens_the_topic(self):
        from playwright.sync_api import expect

        page = self.page_as(self.learner, viewport=SIZES["phone"], has_touch=True, is_mobile=True)
        page.goto(self.live_server_url + self.roadmap.get_absolute_url())
        expect(page.locator("svg.topic-graph")).to_be_hidden()
        expect(page.locator("#topic-panel")).to_be_hidden()
        page.locator("#topic-list a", has_text="KV cache memory").tap()

        expect(page.locator("#topic-panel .panel-title")).to_have_text("KV cache memory")
        expect(page.locator("#topic-panel")).to_be_in_viewport()
        page.screenshot(path=self.shots / "roadmap-panel-tapped-phone.png")
        assert self.errors == []

    def test_a_search_dims_the_other_topics(self):
        from playwright.sync_api import expect

        page = self.page_as(self.learner, viewport=SIZES["desktop"])
        page.goto(self.live_server_url + self.roadmap.get_absolute_url())
        page.fill("#id_q", "kv")
        page.press("#id_q", "Enter")

        expect(page.locator(".topic-finder [role=status]")).to_contain_text("1 of 7 topics match")
        expect(page.locator("#node-tokenization")).to_have_attribute("data-match", "no")
        expect(page.locator("#id_q")).to_have_value("kv")

    def test_the_self_assessment_preselects_no_level(self):
        page = self.page_as(self.learner, viewport=SIZES["desktop"])
        page.goto(self.live_server_url + reverse("assessments:assessment-detail", args=[self.roadmap.slug, "layer-2"]))
        assert page.locator("input[name=level]:checked").count() == 0
        page.click("text=Save rating")  # the browser asks for a level (the field is required): nothing saved
        assert page.url.endswith("/layer-2/")
        assert not SelfAssessment.objects.filter(user=self.learner).exclude(layer__slug="layer-1").exists()

    def test_the_artifact_forms_topic_search_narrows_the_checkboxes(self):
        from playwright.sync_api import expect

        page = self.page_as(self.learner, viewport=SIZES["phone"])
        page.goto(self.live_server_url + reverse("portfolio:artifact-create"))
        page.fill("#id_topics_search", "kv cache")

        expect(page.get_by_label("KV cache memory")).to_be_visible()
        expect(page.get_by_label("Tokenization")).to_be_hidden()
        page.screenshot(path=self.shots / "new-artifact-search-phone.png", full_page=True)
        assert self.errors == []
