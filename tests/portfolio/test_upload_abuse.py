"""Upload abuse through the real upload views and the API, beside what test_version_views.py and
test_api.py already refuse (oversize, zip bomb and path traversal in the form; traversal in the API):
symlink entries, files of the wrong type for a runnable spec, results that are not JSON, and the
API's share of oversize and bombs. Each is refused with a message that names the file or entry,
writes nothing (no version, no run, no stored file, no results row) and keeps what was typed."""

from __future__ import annotations

import io
import json
import os
import zipfile

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.defaultfilters import filesizeformat
from django.test import TestCase, override_settings
from django.urls import reverse

from portfolio.models import ArtifactVersion, ResultUpload, Run
from portfolio.runner import archive
from roadmap.models import ArtifactSpec
from tests.factories import (
    OK_SCRIPT,
    create_artifact,
    create_artifact_spec,
    create_runnable_artifact,
    create_token,
    create_user,
)
from tests.portfolio.helpers import IsolatedMediaMixin, make_zip, stored_files, zip_bomb, zip_with_symlink

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48

# (file name, bytes, what the refusal must name) for a KV cache calculator.
WRONG_FOR_A_CALCULATOR = [
    ("kv_calculator.exe", EXE, "kv_calculator.exe"),
    ("diagram.png", PNG, "diagram.png"),
    ("kv_calculator.py", PNG, "kv_calculator.py: is not text"),
    ("pictures.zip", make_zip({"a.png": PNG, "README.md": b"# hi\n"}), "pictures.zip: has no .py file"),
]
# Path traversal ("../") is refused in test_version_views.py (form) and test_api.py (API).
HOSTILE_ZIPS = [
    ("links.zip", zip_with_symlink(), "link-to-etc"),
    ("abs.zip", make_zip({"/etc/cron.d/x.py": b"x"}), "/etc/cron.d/x.py"),
]


class Uploads(IsolatedMediaMixin, TestCase):
    def setUp(self) -> None:
        super().setUp()
        self.owner = create_user()
        self.calculator = create_artifact(
            owner=self.owner, spec=create_artifact_spec(kind=ArtifactSpec.Kind.KV_CALCULATOR)
        )
        self.benchmark = create_artifact(
            owner=self.owner, spec=create_artifact_spec(kind=ArtifactSpec.Kind.INFERENCE_BENCHMARK)
        )
        _, raw = create_token(user=self.owner)
        self.auth = {"Authorization": f"Bearer {raw}"}
        self.client.force_login(self.owner)

    def form_upload(self, artifact, name: str, data: bytes, notes: str = "my careful notes"):
        url = reverse("portfolio:version-create", args=[artifact.pk])
        return self.client.post(url, {"file": SimpleUploadedFile(name, data), "notes": notes})

    def api_upload(self, artifact, name: str, data: bytes):
        url = f"/api/v1/artifacts/{artifact.pk}/versions"
        return self.client.post(url, {"file": SimpleUploadedFile(name, data), "notes": "v"}, headers=self.auth)

    def assert_nothing_written(self) -> None:
        assert not ArtifactVersion.objects.exists() and not Run.objects.exists()
        assert stored_files() == []

    def assert_form_refused(self, response, named: str) -> None:
        assert response.status_code == 400
        self.assertContains(response, named, status_code=400)
        self.assertContains(response, "my careful notes", status_code=400)  # what was typed is still in the form
        self.assert_nothing_written()

    def assert_api_refused(self, response, named: str) -> None:
        assert response.status_code == 422, response.content
        body = response.json()
        assert body["errors"][0]["field"] == "file" and named in body["message"], body
        self.assert_nothing_written()


class WrongTypeTests(Uploads):
    def test_a_program_or_an_image_is_refused_for_a_calculator_in_the_form(self):
        for name, data, named in WRONG_FOR_A_CALCULATOR:
            with self.subTest(name):
                self.assert_form_refused(self.form_upload(self.calculator, name, data), named)

    def test_a_program_or_an_image_is_refused_for_a_calculator_over_the_api(self):
        for name, data, named in WRONG_FOR_A_CALCULATOR:
            with self.subTest(name):
                self.assert_api_refused(self.api_upload(self.calculator, name, data), named)

    def test_a_benchmark_takes_json_or_its_client_not_other_files(self):
        # Issue 16: 07 takes the learner's benchmark client (Python) as well as JSON.
        self.assert_form_refused(
            self.form_upload(self.benchmark, "bench.txt", OK_SCRIPT), "bench.txt: is not a .json or .py"
        )
        self.assert_api_refused(
            self.api_upload(self.benchmark, "bench.txt", OK_SCRIPT), "bench.txt: is not a .json or .py"
        )

    def test_what_each_grader_reads_is_accepted(self):
        accepted = [
            (self.calculator, "kv_calculator.py", OK_SCRIPT),
            (self.calculator, "kv.zip", make_zip({"kv/kv_calculator.py": OK_SCRIPT, "kv/notes.png": PNG})),
            (self.benchmark, "workload.json", b'{"model": "m"}'),
            (self.benchmark, "bench.zip", make_zip({"results.json": b"{}"})),
            (self.benchmark, "bench_client.py", OK_SCRIPT),
        ]
        for artifact, name, data in accepted:
            with self.subTest(name):
                assert self.form_upload(artifact, name, data).status_code == 302
        assert ArtifactVersion.objects.count() == len(accepted)

    def test_documents_take_any_file(self):
        notes = create_artifact(owner=self.owner)
        assert self.form_upload(notes, "diagram.png", PNG).status_code == 302
        assert self.api_upload(notes, "tool.exe", EXE).status_code == 201


class HostileArchiveTests(Uploads):
    def test_symlinks_and_absolute_paths_are_refused_naming_the_entry_in_the_form(self):
        for name, data, entry in HOSTILE_ZIPS:
            with self.subTest(name):
                self.assert_form_refused(self.form_upload(self.calculator, name, data), entry)

    def test_symlinks_and_absolute_paths_are_refused_naming_the_entry_over_the_api(self):
        for name, data, entry in HOSTILE_ZIPS:
            with self.subTest(name):
                self.assert_api_refused(self.api_upload(self.calculator, name, data), entry)

    @override_settings(ARTIFACT_MAX_BYTES=100)
    def test_an_oversize_file_is_refused_over_the_api(self):
        self.assert_api_refused(self.api_upload(self.calculator, "kv_calculator.py", b"#" * 101), "kv_calculator.py")

    @override_settings(ARTIFACT_MAX_UNCOMPRESSED_BYTES=5 * 1024 * 1024)
    def test_a_zip_bomb_is_refused_over_the_api(self):
        self.assert_api_refused(self.api_upload(self.calculator, "bomb.zip", zip_bomb(20)), "bomb.zip")


class ResultsAbuseTests(Uploads):
    def results_form(self, name: str, data: bytes):
        url = reverse("portfolio:results-create", args=[self.calculator.pk])
        return self.client.post(url, {"file": SimpleUploadedFile(name, data), "notes": "my careful notes"})

    def test_a_results_file_that_is_not_json_is_refused_naming_it(self):
        for name, data in (("results.png", PNG), ("results.json", b"{not json")):
            with self.subTest(name):
                response = self.results_form(name, data)
                assert response.status_code == 400 and not ResultUpload.objects.exists()
                self.assertContains(response, f"{name}:", status_code=400)
                self.assertContains(response, "my careful notes", status_code=400)

    @override_settings(RESULTS_MAX_BYTES=100)
    def test_an_oversize_results_file_is_refused_naming_it(self):
        response = self.results_form("results.json", json.dumps({"summary": "x" * 200, "metrics": {}}).encode())
        assert response.status_code == 400 and not ResultUpload.objects.exists()
        self.assertContains(response, "results.json:", status_code=400)
        self.assertContains(response, "my careful notes", status_code=400)

    def test_a_body_that_is_not_json_is_refused_over_the_api(self):
        url = f"/api/v1/artifacts/{self.calculator.pk}/results"
        for body in ("{not json", json.dumps({"document": "a string, not a document"})):
            with self.subTest(body):
                response = self.client.post(url, body, content_type="application/json", headers=self.auth)
                assert response.status_code in (400, 422) and response.json()["message"], response.content
        assert not ResultUpload.objects.exists()


class RunnerLimitsAtUploadTests(IsolatedMediaMixin, TestCase):
    """What the runner would refuse is refused at upload, naming the runner's limit (issue 13: a
    17.8 MB .py and a zip unpacking to 100 MB used to wait in the queue and end "our fault")."""

    def setUp(self) -> None:
        super().setUp()
        self.artifact = create_runnable_artifact()
        self.client.force_login(self.artifact.owner)
        self.url = reverse("portfolio:version-create", args=[self.artifact.pk])

    def upload(self, name: str, data: bytes):
        return self.client.post(self.url, {"file": SimpleUploadedFile(name, data), "notes": "kept"})

    def test_a_python_file_over_the_runners_limit_is_refused_with_the_limit(self):
        data = b"#" * (archive.DEFAULT_MAX_BYTES + 1024)
        assert data and len(data) < settings.ARTIFACT_MAX_BYTES  # the site's own cap would take it
        response = self.upload("kv_calculator.py", data)
        self.assertContains(response, str(archive.DEFAULT_MAX_BYTES), status_code=400)
        self.assertContains(response, "kept", status_code=400)
        assert not ArtifactVersion.objects.exists() and not Run.objects.exists()

    def test_a_zip_that_unpacks_past_the_runners_limit_is_refused_with_the_limit(self):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("kv_calculator.py", "print(1)\n")
            for i in range(archive.DEFAULT_MAX_TOTAL_UNCOMPRESSED // 1_000_000 + 2):
                # 1 MB each that compresses about 50:1, under the ratio check: only the total is too much.
                zf.writestr(f"pad/{i}.bin", os.urandom(20_000) + b"\0" * 980_000)
        response = self.upload("work.zip", buffer.getvalue())
        self.assertContains(response, str(archive.DEFAULT_MAX_TOTAL_UNCOMPRESSED), status_code=400)
        assert not ArtifactVersion.objects.exists()

    def test_the_form_states_the_runners_limits(self):
        response = self.client.get(self.url)
        self.assertContains(response, filesizeformat(archive.DEFAULT_MAX_BYTES))

    def test_a_workload_that_is_not_json_we_read_is_refused_at_upload(self):
        artifact = create_runnable_artifact(owner=self.artifact.owner, kind="inference_benchmark")
        url = reverse("portfolio:version-create", args=[artifact.pk])
        response = self.client.post(url, {"file": SimpleUploadedFile("workload.json", b'{"rate": NaN}')})
        self.assertContains(response, "workload.json: NaN is not a number", status_code=400)
