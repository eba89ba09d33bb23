"""Upload bodies for tests: good zips and hostile ones."""

from __future__ import annotations

import io
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path

from django.conf import settings
from django.test import override_settings


def make_zip(files: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_bomb(megabytes: int = 20) -> bytes:
    """One entry of zeros: tiny compressed, huge unpacked."""
    return make_zip({"zeros.bin": b"\0" * (megabytes * 1024 * 1024)})


def zip_with_symlink() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("link-to-etc")
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def stored_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / "artifacts"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


class IsolatedMediaMixin:
    """Each test gets its own MEDIA_ROOT, so "no file was written" can be checked."""

    def setUp(self) -> None:
        super().setUp()  # type: ignore[misc]
        folder = tempfile.mkdtemp(prefix="layerwise-media-")
        override = override_settings(MEDIA_ROOT=folder)
        override.enable()
        self.addCleanup(override.disable)  # type: ignore[attr-defined]
        self.addCleanup(shutil.rmtree, folder, True)  # type: ignore[attr-defined]
