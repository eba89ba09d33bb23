from __future__ import annotations

import copy
import json
import re

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase

from portfolio import results
from portfolio.models import Artifact, ArtifactVersion, ResultUpload, Run
from tests.factories import (
    OK_SCRIPT,
    create_artifact,
    create_artifact_spec,
    create_layer,
    create_run,
    create_runnable_artifact,
    create_token,
    create_topic,
    create_user,
    finish_run,
)
from tests.portfolio.helpers import IsolatedMediaMixin, make_zip, stored_files

BENCH = results.SCHEMAS["inference-benchmark"].example


class ApiTestCase(IsolatedMediaMixin, TestCase):
    def setUp(self) -> None:
        super().setUp()
        self.user = create_user()
        _, raw = create_token(user=self.user)
        self.auth = {"Authorization": f"Bearer {raw}"}

    def post_json(self, url: str, body: object, **headers: str):
        return self.client.post(url, json.dumps(body), content_type="application/json", headers=self.auth | headers)


class ArtifactApiTests(ApiTestCase):
    def test_an_artifact_is_created_for_a_spec_code(self):
        layer = create_layer()
        topic = create_topic(layer=layer, slug="kv-cache-sizing")
        create_artifact_spec(roadmap=layer.roadmap, kind="kv_calculator", code="09", title="KV Cache Calculator")
        response = self.post_json("/api/v1/artifacts", {"spec": "09", "topics": ["kv-cache-sizing"]})
        assert response.status_code == 201, response.content
        body = response.json()
        artifact = Artifact.objects.get(pk=body["id"])
        assert body["spec"] == "09" and body["title"] == "KV Cache Calculator" and body["topics"] == ["kv-cache-sizing"]
        assert artifact.owner == self.user and list(artifact.topics.all()) == [topic]

    def test_an_unknown_spec_is_named(self):
        response = self.post_json("/api/v1/artifacts", {"spec": "99"})
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "spec"

    def test_a_free_form_artifact_needs_a_title(self):
        response = self.post_json("/api/v1/artifacts", {})
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "title"
        assert self.post_json("/api/v1/artifacts", {"title": "Notes"}).status_code == 201

    def test_topics_must_be_of_the_specs_roadmap_and_a_refusal_leaves_nothing(self):
        layer = create_layer()
        create_topic(layer=layer, slug="kv-cache-sizing")
        create_topic(layer=create_layer(), slug="elsewhere")
        create_artifact_spec(roadmap=layer.roadmap, code="09")
        response = self.post_json("/api/v1/artifacts", {"spec": "09", "topics": ["kv-cache-sizing", "elsewhere"]})
        assert response.status_code == 422
        assert response.json()["errors"] == [{"field": "topics", "message": "unknown topic slugs: elsewhere"}]
        assert not Artifact.objects.exists()

    def test_a_code_in_several_roadmaps_needs_the_roadmap(self):
        first, second = create_artifact_spec(code="09"), create_artifact_spec(code="09")
        response = self.post_json("/api/v1/artifacts", {"spec": "09"})
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "roadmap"
        assert not Artifact.objects.exists()
        named = self.post_json("/api/v1/artifacts", {"spec": "09", "roadmap": second.roadmap.slug})
        assert named.status_code == 201 and Artifact.objects.get().spec == second != first

    def test_without_a_token_it_is_401(self):
        response = self.client.post("/api/v1/artifacts", "{}", content_type="application/json")
        assert response.status_code == 401 and "Bearer" in response.json()["message"]


class VersionApiTests(ApiTestCase):
    def upload(self, artifact_id: int, name: str, data: bytes, **fields: str):
        body = {"file": SimpleUploadedFile(name, data), **fields}
        return self.client.post(f"/api/v1/artifacts/{artifact_id}/versions", body, headers=self.auth)

    def test_uploading_returns_the_version_its_sha256_and_the_run(self):
        artifact = create_runnable_artifact(owner=self.user)
        response = self.upload(artifact.pk, "main.py", OK_SCRIPT, notes="v1")
        assert response.status_code == 201, response.content
        body = response.json()
        version = ArtifactVersion.objects.get()
        run = Run.objects.get()
        assert body["number"] == 1 and body["sha256"] == version.sha256 and body["size"] == len(OK_SCRIPT)
        assert body["run"]["id"] == run.pk and body["run"]["status"] == "queued"

    def test_a_refused_zip_names_the_entry_and_writes_nothing(self):
        artifact = create_runnable_artifact(owner=self.user)
        response = self.upload(artifact.pk, "evil.zip", make_zip({"../x.py": b"x"}))
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "file" and "../x.py" in response.json()["message"]
        assert not ArtifactVersion.objects.exists()

    def test_a_file_and_a_link_together_are_refused_and_nothing_is_stored(self):
        artifact = create_runnable_artifact(owner=self.user)
        response = self.upload(artifact.pk, "main.py", OK_SCRIPT, link="https://example.com/nb")
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "file"
        assert not ArtifactVersion.objects.exists() and not Run.objects.exists() and not stored_files()

    def test_a_bad_link_is_named_as_the_link(self):
        artifact = create_artifact(owner=self.user)
        response = self.client.post(
            f"/api/v1/artifacts/{artifact.pk}/versions", {"link": "ftp://example.com/x"}, headers=self.auth
        )
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "link"
        assert not ArtifactVersion.objects.exists()

    def test_a_link_version(self):
        artifact = create_artifact(owner=self.user)
        response = self.client.post(
            f"/api/v1/artifacts/{artifact.pk}/versions", {"link": "https://example.com/nb"}, headers=self.auth
        )
        assert response.status_code == 201 and response.json()["kind"] == "link" and response.json()["run"] is None

    def test_another_users_artifact_is_404(self):
        artifact = create_runnable_artifact()
        assert self.upload(artifact.pk, "main.py", OK_SCRIPT).status_code == 404


class ResultsApiTests(ApiTestCase):
    def test_a_valid_document_is_stored_self_reported(self):
        artifact = create_artifact(owner=self.user, spec=create_artifact_spec(kind="inference_benchmark"))
        response = self.post_json(f"/api/v1/artifacts/{artifact.pk}/results", {"document": BENCH})
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["self_reported"] is True and body["schema_name"] == "inference-benchmark"
        assert body["recomputation"]["comparisons"][0]["status"] == "ok"

    def test_missing_workload_fields_are_named(self):
        artifact = create_artifact(owner=self.user, spec=create_artifact_spec(kind="inference_benchmark"))
        document = copy.deepcopy(BENCH)
        del document["workload"]["model"]
        del document["workload"]["concurrency"]
        response = self.post_json(f"/api/v1/artifacts/{artifact.pk}/results", {"document": document})
        assert response.status_code == 422
        body = response.json()
        assert "missing model, concurrency" in body["message"]
        assert {e["field"] for e in body["errors"]} == {"document.workload.model", "document.workload.concurrency"}
        assert not ResultUpload.objects.exists()

    def test_an_unknown_version_is_named_and_nothing_is_stored(self):
        artifact = create_artifact(owner=self.user, spec=create_artifact_spec(kind="inference_benchmark"))
        response = self.post_json(f"/api/v1/artifacts/{artifact.pk}/results", {"document": BENCH, "version": 3})
        assert response.status_code == 422
        assert response.json()["errors"] == [{"field": "version", "message": "this artifact has no version 3"}]
        assert not ResultUpload.objects.exists()

    def test_another_users_artifact_is_404(self):
        artifact = create_artifact()
        assert self.post_json(f"/api/v1/artifacts/{artifact.pk}/results", {"document": {}}).status_code == 404


class RunApiTests(ApiTestCase):
    def test_a_run_reports_its_status(self):
        run = create_run(version=None, by=self.user)
        Artifact.objects.filter(pk=run.version.artifact_id).update(owner=self.user)
        response = self.client.get(f"/api/v1/runs/{run.pk}", headers=self.auth)
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "queued" and body["attempt"] == 1 and body["sha256"] == run.version.sha256

    def test_a_running_run_says_what_the_runner_is_doing_in_words(self):
        run = create_run(version=None, by=self.user)
        Artifact.objects.filter(pk=run.version.artifact_id).update(owner=self.user)
        body = self.client.get(f"/api/v1/runs/{run.pk}", headers=self.auth).json()
        assert (body["progress"], body["timeline"]) == ("waiting for a runner", [])
        run.current_attempt.record_progress({"stage": "received", "seq": 1})
        run.current_attempt.record_progress({"stage": "call", "total": 22, "done": 10, "seq": 2})
        body = self.client.get(f"/api/v1/runs/{run.pk}", headers=self.auth).json()
        assert body["status"] == "running"
        assert body["progress"] == "calling your calculator on 22 cases (10 done)"
        assert body["timeline"] == ["the runner has your file", "calling your calculator on 22 cases (10 done)"]
        finish_run(run)
        body = self.client.get(f"/api/v1/runs/{run.pk}", headers=self.auth).json()
        assert body["progress"] == "" and body["timeline"][0] == "the runner has your file"

    def test_another_users_run_is_404(self):
        run = create_run()
        assert self.client.get(f"/api/v1/runs/{run.pk}", headers=self.auth).status_code == 404


class SchemaApiTests(TestCase):
    def test_schemas_are_public_json_schema(self):
        listing = self.client.get("/api/v1/schemas/results").json()
        assert {s["name"] for s in listing} == set(results.SCHEMAS)
        schema = self.client.get("/api/v1/schemas/results/inference-benchmark").json()
        assert schema["$id"].startswith("layerwise:results/inference-benchmark")
        assert self.client.get("/api/v1/schemas/results/nope").status_code == 404


class OpenApiTests(TestCase):
    def test_the_schema_lists_the_portfolio_endpoints(self):
        paths = self.client.get("/api/v1/openapi.json").json()["paths"]
        for path in (
            "/api/v1/artifacts",
            "/api/v1/artifacts/{artifact_id}/versions",
            "/api/v1/artifacts/{artifact_id}/results",
            "/api/v1/runs/{run_id}",
            "/api/v1/schemas/results/{name}",
        ):
            assert path in paths, path

    def test_the_docs_page_loads_swagger_from_this_site_not_a_cdn(self):
        """Script from a CDN runs on our origin, with our cookies, and changes when the CDN's does."""
        page = self.client.get("/api/v1/docs").content.decode()
        sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page)
        assert sources and all(s.startswith("/static/") for s in sources), sources
