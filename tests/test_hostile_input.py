"""Every input the attack on `make run` turned into a server error (issue 13) now gets a 4xx that
names the field, and nothing is stored: the one JSON reader (portfolio/runner/jsondoc.py) behind
the API, the results form and file, and the credential verifier; an unreadable multipart body; a
static path that climbs out of the static folders."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse

from portfolio.models import ResultUpload
from tests.factories import create_artifact, create_artifact_spec, create_token, create_user
from tests.portfolio.helpers import IsolatedMediaMixin

HUGE_4000 = "9" * 4000
HUGE_5000 = "9" * 5000
DEEP = "[" * 100_000 + "]" * 100_000


def results_with(number: str) -> str:
    return '{"summary": "s", "metrics": {"x": ' + number + "}}"


HOSTILE_DOCUMENTS = {
    "NaN": results_with("NaN"),
    "Infinity": results_with("Infinity"),
    "-Infinity": results_with("-Infinity"),
    "1e400": results_with("1e400"),
    "4,000 digits": results_with(HUGE_4000),
    "5,000 digits": results_with(HUGE_5000),
    "100,000 deep": '{"summary": "s", "metrics": {"x": 1}, "extra": ' + DEEP + "}",
    "NUL in a string": '{"summary": "a\\u0000b", "metrics": {}}',
    "lone surrogate": '{"summary": "\\ud800", "metrics": {}}',
}


class ResultsFormTests(TestCase):
    def setUp(self) -> None:
        self.artifact = create_artifact()
        self.client.force_login(self.artifact.owner)
        self.url = reverse("portfolio:results-create", args=[self.artifact.pk])

    def test_hostile_pasted_documents_get_400_naming_the_document_and_keep_the_notes(self):
        for name, text in HOSTILE_DOCUMENTS.items():
            with self.subTest(name):
                response = self.client.post(self.url, {"text": text, "notes": "my notes"})
                self.assertContains(response, "document", status_code=400)
                self.assertContains(response, "my notes", status_code=400)
        assert not ResultUpload.objects.exists()

    def test_hostile_files_get_400_naming_the_file(self):
        for name, text in HOSTILE_DOCUMENTS.items():
            with self.subTest(name):
                upload = SimpleUploadedFile("results.json", text.encode())
                response = self.client.post(self.url, {"file": upload})
                self.assertContains(response, "results.json: ", status_code=400)
        assert not ResultUpload.objects.exists()

    def test_the_reasons_are_said(self):
        cases = {
            "NaN": "NaN is not a number JSON allows",
            "1e400": "too large for a number",
            "4,000 digits": "integer of 4000 digits is outside",
            "100,000 deep": "nested more than 32 levels deep",
        }
        for name, reason in cases.items():
            with self.subTest(name):
                self.assertContains(
                    self.client.post(self.url, {"text": HOSTILE_DOCUMENTS[name]}), reason, status_code=400
                )


class ResultsApiTests(IsolatedMediaMixin, TestCase):
    def setUp(self) -> None:
        self.artifact = create_artifact()
        _, raw = create_token(user=self.artifact.owner)
        self.auth = {"Authorization": f"Bearer {raw}"}
        self.url = f"/api/v1/artifacts/{self.artifact.pk}/results"

    def test_hostile_bodies_get_400_naming_the_body(self):
        for name, text in HOSTILE_DOCUMENTS.items():
            with self.subTest(name):
                body = '{"document": ' + text + "}"
                response = self.client.post(self.url, body, content_type="application/json", headers=self.auth)
                assert response.status_code == 400, (name, response.status_code, response.content[:300])
                data = response.json()
                assert data["errors"][0]["field"].startswith("body") and data["message"].startswith("body")
        assert not ResultUpload.objects.exists()

    def test_a_document_that_arrives_parsed_is_checked_too(self):
        """The model verb refuses what the reader would: no IntegrityError, no OverflowError."""
        from portfolio import results

        for document in (
            {"summary": "s", "metrics": {"x": float("nan")}},
            {"summary": "s", "metrics": {"x": 10**4000}},
        ):
            with self.assertRaises(results.ResultsInvalid) as refused:
                self.artifact.add_results(document)
            assert refused.exception.errors[0]["path"] == "metrics.x"
        assert not ResultUpload.objects.exists()

    def test_a_multipart_body_without_a_boundary_gets_400(self):
        spec = create_artifact_spec()
        artifact = create_artifact(owner=self.artifact.owner, spec=spec)
        response = self.client.post(
            f"/api/v1/artifacts/{artifact.pk}/versions",
            b"--x\r\nContent-Disposition: form-data; name=file\r\n\r\nabc\r\n--x--\r\n",
            content_type="multipart/form-data",
            headers=self.auth,
        )
        assert response.status_code == 400, response.content[:500]
        assert b"Traceback" not in response.content and response.json()["message"].startswith("body:")


class CredentialVerifierTests(TestCase):
    def test_hostile_credentials_get_400_naming_the_field_without_logging_in(self):
        url = reverse("gates:credential-verify")
        for name, text in {
            # 60,000 deep: the form's 200,000-character limit would refuse 100,000 before the reader
            "60,000 deep": '{"a": ' + "[" * 60_000 + "]" * 60_000 + "}",
            "5,000 digits": '{"a": ' + HUGE_5000 + "}",
            "NaN": '{"a": NaN}',
        }.items():
            with self.subTest(name):
                response = self.client.post(url, {"credential": text})
                self.assertContains(response, "credential: ", status_code=400)


class StaticPathTests(TestCase):
    def test_a_static_path_that_climbs_out_is_not_found(self):
        for path in ("/static/..%2Fconfig%2Fsettings.py", "/static/../config/settings.py", "/static/%2e%2e/manage.py"):
            with self.subTest(path):
                response = self.client.get(path)
                assert response.status_code in (400, 404), (path, response.status_code)
                assert b"SECRET_KEY" not in b"".join(getattr(response, "streaming_content", [response.content]))

    def test_a_web_form_with_an_unreadable_multipart_body_is_refused(self):
        self.client.force_login(create_user())
        response = self.client.post(reverse("accounts:profile-update"), b"garbage", content_type="multipart/form-data")
        assert 400 <= response.status_code < 500
