"""What the schema now declares, the API enforces: a body is an object with no unknown fields, ids
stay within the JSON reader's 2**53, and every refusal is the one error shape naming the field."""

from __future__ import annotations

import json

from django.test import TestCase

from portfolio.models import Artifact
from tests.factories import create_token, create_user


class StrictInputTests(TestCase):
    def setUp(self) -> None:
        self.auth = {"Authorization": f"Bearer {create_token(user=create_user())[1]}"}

    def post(self, url: str, body: str):
        return self.client.post(url, body, content_type="application/json", headers=self.auth)

    def test_a_body_that_is_not_an_object_is_refused_and_nothing_is_created(self):
        for body in ('"AAA"', "[]", "3", "null"):
            response = self.post("/api/v1/artifacts", body)
            assert response.status_code == 400, (body, response.content)
            assert response.json()["errors"][0]["field"] == "body"
        assert not Artifact.objects.exists()

    def test_an_unknown_field_is_refused_naming_it(self):
        response = self.post("/api/v1/artifacts", json.dumps({"title": "Mine", "colour": "blue"}))
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == ["colour"]
        assert not Artifact.objects.exists()

    def test_ids_past_two_to_the_53_are_a_422_not_a_server_error(self):
        huge = 2**70
        for url in (f"/api/v1/artifacts/{huge}", f"/api/v1/runs/{huge}", f"/api/v1/results/{huge}"):
            response = self.client.get(url, headers=self.auth)
            assert response.status_code == 422, (url, response.status_code)
        for url, field in ((f"/api/v1/runs?artifact={huge}", "artifact"), (f"/api/v1/runs?page={huge}", "page")):
            response = self.client.get(url, headers=self.auth)
            assert response.status_code == 422 and response.json()["errors"][0]["field"] == field

    def test_the_schema_declares_the_same_rules(self):
        schema = self.client.get("/api/v1/openapi.json").json()
        components = schema["components"]["schemas"]
        assert components["ArtifactIn"]["additionalProperties"] is False
        page_size = next(p for p in schema["paths"]["/api/v1/runs"]["get"]["parameters"] if p["name"] == "page_size")
        assert page_size["schema"]["maximum"] == 100
        error = schema["paths"]["/api/v1/runs"]["get"]["responses"]["422"]["content"]["application/json"]
        assert error["schema"] == {"$ref": "#/components/schemas/ErrorOut"}
        assert set(components["ErrorOut"]["properties"]) == {"message", "errors"}
