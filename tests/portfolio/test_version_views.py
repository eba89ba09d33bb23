from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase, override_settings
from django.urls import reverse

from portfolio.models import ArtifactVersion, Run
from tests.factories import (
    OK_SCRIPT,
    create_artifact,
    create_run,
    create_runnable_artifact,
    create_user,
    create_version,
)
from tests.portfolio.helpers import IsolatedMediaMixin, make_zip, stored_files, zip_bomb


class VersionUploadTests(IsolatedMediaMixin, TestCase):
    def setUp(self) -> None:
        super().setUp()
        self.artifact = create_runnable_artifact()
        self.client.force_login(self.artifact.owner)
        self.url = reverse("portfolio:version-create", args=[self.artifact.pk])

    def upload(self, name: str, data: bytes, **fields: str):
        return self.client.post(self.url, {"file": SimpleUploadedFile(name, data), **fields})

    def assert_refused_and_nothing_written(self, response, *needles: bytes) -> None:
        assert response.status_code == 400
        for needle in needles:
            assert needle in response.content, needle
        assert not ArtifactVersion.objects.exists() and not Run.objects.exists()
        assert stored_files() == []

    def test_uploading_a_script_stores_a_version_and_opens_its_run(self):
        response = self.upload("main.py", OK_SCRIPT, notes="first try")
        version = ArtifactVersion.objects.get()
        run = Run.objects.get()
        assert response.status_code == 302 and response["Location"] == run.get_absolute_url()
        assert version.notes == "first try" and run.version == version
        assert len(stored_files()) == 1

    def test_a_zip_is_accepted(self):
        self.upload("work.zip", make_zip({"main.py": OK_SCRIPT}))
        assert ArtifactVersion.objects.get().kind == "zip"

    @override_settings(ARTIFACT_MAX_BYTES=100)
    def test_an_oversize_file_is_refused_and_the_notes_are_kept(self):
        response = self.upload("main.py", b"#" * 101, notes="my careful notes")
        self.assert_refused_and_nothing_written(response, b"main.py", b"limit", b"my careful notes")

    @override_settings(ARTIFACT_MAX_UNCOMPRESSED_BYTES=5 * 1024 * 1024)
    def test_a_zip_bomb_is_refused(self):
        response = self.upload("bomb.zip", zip_bomb(20), notes="kept")
        self.assert_refused_and_nothing_written(response, b"bomb.zip", b"kept")

    def test_path_traversal_is_refused_naming_the_entry(self):
        response = self.upload("evil.zip", make_zip({"../outside.py": b"x"}), notes="kept")
        self.assert_refused_and_nothing_written(response, b"../outside.py", b"kept")

    def test_a_file_of_the_wrong_type_is_refused(self):
        response = self.upload("work.zip", b"this is not a zip", notes="kept")
        self.assert_refused_and_nothing_written(response, b"not a zip archive", b"kept")

    def test_a_non_web_link_is_refused_and_kept_in_the_form(self):
        response = self.client.post(self.url, {"link": "ftp://example.com/code", "notes": "kept"})
        assert response.status_code == 400 and not ArtifactVersion.objects.exists()
        assert b"ftp://example.com/code" in response.content

    def test_a_link_is_stored_but_not_run(self):
        response = self.client.post(self.url, {"link": "https://github.com/me/kv", "notes": ""})
        assert response.status_code == 302 and ArtifactVersion.objects.get().kind == "link"
        assert not Run.objects.exists()

    def test_nothing_chosen_is_refused(self):
        response = self.client.post(self.url, {"notes": "kept"})
        assert response.status_code == 400 and b"Choose a file" in response.content

    @override_settings(RUNNER_MAX_QUEUED_PER_USER=1)
    def test_over_the_queue_limit_the_version_is_kept_and_the_learner_told(self):
        create_run(version=create_version(artifact=self.artifact))
        response = self.upload("main.py", OK_SCRIPT)
        assert response.status_code == 302 and response["Location"] == self.artifact.get_absolute_url()
        page = self.client.get(response["Location"])
        assert b"1 run queued or running" in page.content and b"Run this version" in page.content

    def test_another_user_cannot_upload_to_my_artifact(self):
        self.client.force_login(create_user())
        assert self.upload("main.py", OK_SCRIPT).status_code == 404
        assert self.client.get(self.url).status_code == 404


class VersionDownloadAndRunTests(IsolatedMediaMixin, TestCase):
    def test_the_owner_downloads_the_exact_bytes(self):
        version = create_version(data=b"exact bytes")
        self.client.force_login(version.artifact.owner)
        response = self.client.get(version.get_download_url())
        assert response.status_code == 200 and b"".join(response.streaming_content) == b"exact bytes"
        assert "main.py" in response["Content-Disposition"]

    def test_another_user_gets_404_for_a_version(self):
        version = create_version()
        self.client.force_login(create_user())
        assert self.client.get(version.get_download_url()).status_code == 404
        run_url = reverse("portfolio:version-run", args=[version.artifact_id, version.number])
        assert self.client.post(run_url).status_code == 404

    def test_run_this_version_starts_a_run(self):
        version = create_version(artifact=create_runnable_artifact())
        self.client.force_login(version.artifact.owner)
        response = self.client.post(reverse("portfolio:version-run", args=[version.artifact_id, version.number]))
        run = Run.objects.get()
        assert response["Location"] == run.get_absolute_url()

    def test_a_document_version_is_not_run(self):
        version = create_version(artifact=create_artifact())
        self.client.force_login(version.artifact.owner)
        self.client.post(reverse("portfolio:version-run", args=[version.artifact_id, version.number]))
        assert not Run.objects.exists()
