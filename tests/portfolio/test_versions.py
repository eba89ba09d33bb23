"""Versions: immutable, hashed, stored once per content; uploads checked before anything is written."""

from __future__ import annotations

import hashlib
from unittest import mock

from django.test import TestCase, override_settings

from portfolio.models import ArtifactVersion, ImmutableError
from portfolio.uploads import UploadRefused, inspect_file, inspect_link
from tests.factories import OK_SCRIPT, create_artifact, create_runnable_artifact, create_version
from tests.portfolio.helpers import IsolatedMediaMixin, make_zip, stored_files, zip_bomb, zip_with_symlink


class VersionTests(IsolatedMediaMixin, TestCase):
    def test_each_upload_is_a_new_numbered_version_with_the_sha256_of_its_bytes(self):
        artifact = create_artifact()
        first = create_version(artifact=artifact, data=b"one")
        second = create_version(artifact=artifact, data=b"two")
        assert (first.number, second.number) == (1, 2)
        assert first.sha256 == hashlib.sha256(b"one").hexdigest()
        assert first.read_bytes() == b"one" and second.read_bytes() == b"two"
        assert first.kind == ArtifactVersion.Kind.FILE and first.original_filename == "main.py" and first.size == 3

    def test_a_version_cannot_be_changed(self):
        version = create_version()
        version.notes = "rewritten history"
        with self.assertRaises(ImmutableError):
            version.save()
        with self.assertRaises(ImmutableError):
            ArtifactVersion.objects.filter(pk=version.pk).update(notes="sneaky")

    def test_the_same_bytes_are_stored_once(self):
        create_version(data=b"same")
        create_version(data=b"same")
        names = [p.name for p in stored_files()]
        assert names.count(hashlib.sha256(b"same").hexdigest()) == 1

    def test_a_zip_is_a_zip_version(self):
        data = make_zip({"main.py": OK_SCRIPT, "lib/util.py": b"x = 1\n"})
        version = create_version(data=data, filename="work.zip")
        assert version.kind == ArtifactVersion.Kind.ZIP and version.size == len(data)

    def test_a_link_is_hashed_by_its_url(self):
        version = create_version(link="https://github.com/me/kv")
        assert version.kind == ArtifactVersion.Kind.LINK and not version.file
        assert version.sha256 == hashlib.sha256(b"https://github.com/me/kv").hexdigest()

    def test_a_version_of_a_runnable_spec_starts_a_run(self):
        artifact = create_runnable_artifact()
        new = artifact.add_version(inspect_file("main.py", OK_SCRIPT), by=artifact.owner)
        assert new.run is not None and new.run.version == new.version and new.run_refused == ""

    def test_a_failure_after_the_file_was_written_leaves_no_file_and_no_row(self):
        artifact = create_runnable_artifact()
        with (
            mock.patch("portfolio.models.ArtifactVersion.request_run", side_effect=RuntimeError("boom")),
            self.assertRaises(RuntimeError),
        ):
            artifact.add_version(inspect_file("main.py", b"print('orphan?')"), by=artifact.owner)
        assert not ArtifactVersion.objects.exists()
        assert stored_files() == []


class UploadCheckTests(TestCase):
    def refused(self, filename: str, data: bytes) -> str:
        with self.assertRaises(UploadRefused) as refused:
            inspect_file(filename, data)
        return refused.exception.message

    @override_settings(ARTIFACT_MAX_BYTES=1000)
    def test_an_oversize_file_is_refused_naming_it(self):
        assert "big.py" in self.refused("big.py", b"#" * 1001)

    @override_settings(ARTIFACT_MAX_UNCOMPRESSED_BYTES=5 * 1024 * 1024)
    def test_a_zip_bomb_is_refused(self):
        message = self.refused("bomb.zip", zip_bomb(20))
        assert "bomb.zip" in message and ("ratio" in message or "limit" in message)

    def test_path_traversal_is_refused_naming_the_entry(self):
        message = self.refused("evil.zip", make_zip({"../../etc/cron.d/x": b"boom"}))
        assert "../../etc/cron.d/x" in message

    def test_absolute_paths_and_links_in_a_zip_are_refused(self):
        assert "absolute" in self.refused("abs.zip", make_zip({"/etc/passwd": b"x"}))
        assert "link" in self.refused("link.zip", zip_with_symlink())

    def test_a_file_named_zip_that_is_not_a_zip_is_refused(self):
        assert "not a zip" in self.refused("work.zip", b"just text")

    def test_an_empty_file_is_refused(self):
        assert "empty" in self.refused("main.py", b"")

    def test_only_web_links_are_accepted(self):
        for url in ("file:///etc/passwd", "javascript:alert(1)", "ftp://example.com/x", "not a url"):
            with self.assertRaises(UploadRefused):
                inspect_link(url)
        assert inspect_link(" https://example.com/x ").url == "https://example.com/x"
