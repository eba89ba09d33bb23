"""The learner's overlays on the public roadmap pages come from the apps that own them
(settings.ROADMAP_OVERLAYS); roadmap templates only include what those apps prepared."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import TestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from roadmap.models import ArtifactSpec
from roadmap.overlays import Overlay
from tests.factories import (
    create_artifact_spec,
    create_gate,
    create_layer,
    create_path,
    create_roadmap,
    create_topic,
    create_user,
)

# What each overlay adds to a signed-in learner's page, in queries (assessments/overlays.py,
# portfolio/overlays.py say which).
OVERLAY_QUERIES = {"roadmap": 2, "layer": 5, "topic": 3, "path": 1, "artifact": 1}


def clashing_overlay(request: Any, page: str, context: Mapping[str, Any]) -> Overlay:
    return Overlay(context={"roadmap": "not the page's roadmap"})


class OverlayTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = create_user()
        roadmap = create_roadmap(slug="rm")
        cls.layer = create_layer(roadmap=roadmap, slug="l1")
        spec = create_artifact_spec(roadmap=roadmap, code="09", kind=ArtifactSpec.Kind.KV_CALCULATOR)
        create_gate(layer=cls.layer, artifacts=(spec,))
        cls.topic = create_topic(layer=cls.layer, slug="t1")
        cls.path = create_path(roadmap=roadmap, topics=(cls.topic,))
        cls.urls = {
            "roadmap": roadmap.get_absolute_url(),
            "layer": cls.layer.get_absolute_url(),
            "topic": cls.topic.get_absolute_url(),
            "path": cls.path.get_absolute_url(),
            "artifact": reverse("roadmap:artifact-detail", args=["rm", "09"]),
        }

    def queries(self, url: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = self.client.get(url)
        assert response.status_code == 200, url
        return len(ctx)

    def test_each_overlay_costs_a_fixed_number_of_queries(self):
        self.client.force_login(self.user)
        with_overlays = {page: self.queries(url) for page, url in self.urls.items()}
        with override_settings(ROADMAP_OVERLAYS=[]):
            bare = {page: self.queries(url) for page, url in self.urls.items()}

        assert {page: with_overlays[page] - bare[page] for page in self.urls} == OVERLAY_QUERIES

    def test_anonymous_visitors_cost_no_query_more_than_the_bare_catalogue(self):
        with_overlays = [self.queries(url) for url in self.urls.values()]
        with override_settings(ROADMAP_OVERLAYS=[]):
            bare = [self.queries(url) for url in self.urls.values()]

        assert with_overlays == bare

    def test_without_overlays_a_learner_sees_the_bare_catalogue(self):
        self.client.force_login(self.user)
        with override_settings(ROADMAP_OVERLAYS=[]):
            layer_page = self.client.get(self.urls["layer"])
            artifact_page = self.client.get(self.urls["artifact"])

        self.assertContains(layer_page, 'id="gate"')
        self.assertNotContains(layer_page, "topic-status-")
        self.assertNotContains(layer_page, "Request sign-off")
        self.assertNotContains(artifact_page, "Your work")
        self.assertNotContains(artifact_page, "Submission contract")

    def test_the_runnable_specs_contract_is_public(self):
        self.assertContains(self.client.get(self.urls["artifact"]), "Submission contract")

    @override_settings(ROADMAP_OVERLAYS=["tests.roadmap.test_overlays.clashing_overlay"])
    def test_an_overlay_may_not_replace_what_the_page_shows(self):
        with self.assertRaisesMessage(ImproperlyConfigured, "roadmap"):
            self.client.get(self.urls["topic"])


class OneWayTests(TestCase):
    def test_roadmap_templates_load_and_name_nothing_of_the_apps_that_build_on_roadmap(self):
        folder = settings.BASE_DIR / "templates" / "roadmap"
        for template in folder.glob("*.html"):
            text = template.read_text()
            loaded = {name for line in re.findall(r"{%\s*load\s+([^%]+)%}", text) for name in line.split()}
            assert loaded <= {"roadmap_tags", "static"}, template.name
            assert "assessments/" not in text and "portfolio/" not in text, template.name
