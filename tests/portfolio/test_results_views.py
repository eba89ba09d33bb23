from __future__ import annotations

import copy
import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse

from portfolio import results
from portfolio.models import ResultUpload
from tests.factories import create_artifact, create_artifact_spec, create_user, create_version

BENCH = results.SCHEMAS["inference-benchmark"].example


class ResultsUploadTests(TestCase):
    def setUp(self) -> None:
        self.artifact = create_artifact(spec=create_artifact_spec(kind="inference_benchmark"))
        self.client.force_login(self.artifact.owner)
        self.url = reverse("portfolio:results-create", args=[self.artifact.pk])

    def test_the_form_links_the_published_schema(self):
        response = self.client.get(self.url)
        assert reverse("portfolio:schema-detail", args=["inference-benchmark"]).encode() in response.content
        assert b"self-reported" in response.content

    def test_pasted_results_are_stored_and_shown_as_self_reported(self):
        version = create_version(artifact=self.artifact)
        response = self.client.post(self.url, {"text": json.dumps(BENCH), "version": version.pk, "notes": "H100"})
        upload = ResultUpload.objects.get()
        assert response["Location"] == upload.get_absolute_url() and upload.version == version
        page = self.client.get(upload.get_absolute_url())
        assert b"self-reported" in page.content and b"mean_ttft_ms" in page.content and b"Recomputed" in page.content

    def test_an_uploaded_file_works_too(self):
        data = json.dumps(BENCH).encode()
        self.client.post(self.url, {"file": SimpleUploadedFile("results.json", data)})
        assert ResultUpload.objects.count() == 1

    def test_missing_workload_fields_are_named_and_the_text_is_kept(self):
        document = copy.deepcopy(BENCH)
        del document["workload"]["hardware"]
        del document["workload"]["engine_version"]
        text = json.dumps(document)
        response = self.client.post(self.url, {"text": text, "notes": "kept notes"})
        assert response.status_code == 400 and not ResultUpload.objects.exists()
        assert b"The workload definition is missing hardware, engine_version" in response.content
        assert b"kept notes" in response.content and b"engine_version" in response.content

    def test_text_that_is_not_json_is_refused(self):
        response = self.client.post(self.url, {"text": "{oops"})
        assert response.status_code == 400 and b"not valid JSON" in response.content

    def test_results_without_a_workload_are_shown(self):
        """The generic and reasoning-eval schemas have no workload; their pages used to fail with a 500."""
        reasoning = create_artifact_spec()
        reasoning.slug = "reasoning-eval-harness"  # the slug that maps a spec to this schema
        reasoning.save()
        for name, spec in (("generic", None), ("reasoning-eval", reasoning)):
            upload = create_artifact(owner=self.artifact.owner, spec=spec).add_results(results.SCHEMAS[name].example)
            assert upload.schema == name
            response = self.client.get(upload.get_absolute_url())
            assert response.status_code == 200, name
            assert b"The uploaded document" in response.content and b"<h2>Workload</h2>" not in response.content

    def test_another_user_gets_404_for_the_form_and_the_results(self):
        upload = self.artifact.add_results(copy.deepcopy(BENCH))
        self.client.force_login(create_user())
        assert self.client.get(self.url).status_code == 404
        assert self.client.post(self.url, {"text": json.dumps(BENCH)}).status_code == 404
        assert self.client.get(upload.get_absolute_url()).status_code == 404


class SchemaPageTests(TestCase):
    def test_schema_pages_are_public(self):
        response = self.client.get(reverse("portfolio:schema-detail", args=["serving-engine-matrix"]))
        assert response.status_code == 200 and b"engine_version" in response.content

    def test_an_unknown_schema_is_404(self):
        assert self.client.get(reverse("portfolio:schema-detail", args=["nope"])).status_code == 404

    def test_a_free_form_artifact_uses_the_generic_schema(self):
        artifact = create_artifact()
        self.client.force_login(artifact.owner)
        response = self.client.get(reverse("portfolio:results-create", args=[artifact.pk]))
        assert reverse("portfolio:schema-detail", args=["generic"]).encode() in response.content
