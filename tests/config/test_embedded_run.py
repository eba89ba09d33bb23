"""`make run` is a safe single-machine deployment: a secret key generated once into var/ (mode
0600) and read by every process of the checkout, DEBUG off, plain HTTP on loopback without the
HTTPS redirect, and `manage.py` working afterwards without any variable."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

from django.test import SimpleTestCase

from tests.config.helpers import load_settings

REPO = Path(__file__).resolve().parents[2]


def bare_env(var: Path) -> dict[str, str]:
    """The environment of someone who typed `make run` and then `python manage.py ...`: no
    SECRET_KEY, no DEBUG, the embedded database under their var/."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {**keep, "VAR_DIR": str(var), "DJANGO_SETTINGS_MODULE": "config.settings"}


class EmbeddedKeysTests(SimpleTestCase):
    def setUp(self) -> None:
        self.var = Path(tempfile.mkdtemp(prefix="layerwise-embedded-")) / "var"
        self.addCleanup(shutil.rmtree, self.var.parent, True)

    def generate(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "bin/generate-keys"], cwd=REPO, env=bare_env(self.var), capture_output=True, text=True
        )

    def test_the_secret_key_is_generated_once_readable_by_its_owner_only_and_kept(self):
        assert self.generate().returncode == 0
        key_file = self.var / "secret-key"
        first = key_file.read_text()
        assert len(first.strip()) >= 50 and stat.S_IMODE(key_file.stat().st_mode) == 0o600
        again = self.generate()
        assert again.returncode == 0 and key_file.read_text() == first

    def test_a_key_file_others_can_read_is_refused(self):
        self.generate()
        (self.var / "secret-key").chmod(0o644)
        done = self.generate()
        assert done.returncode != 0 and "chmod 600" in done.stderr

    def test_manage_py_works_after_make_run_without_any_variable(self):
        self.generate()
        done = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "shell",
                "-v",
                "0",
                "-c",
                "from django.conf import settings as s; print(s.DEBUG, s.SECRET_KEY)",
            ],
            cwd=REPO,
            env=bare_env(self.var),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["False", (self.var / "secret-key").read_text().strip()]


class EmbeddedHttpsTests(SimpleTestCase):
    def test_https_0_serves_plain_http_without_redirect_hsts_or_secure_cookies(self):
        settings = load_settings(DEBUG="0", SECRET_KEY="x" * 50, HTTPS="0")
        assert not getattr(settings, "SECURE_SSL_REDIRECT", False)
        assert not getattr(settings, "SESSION_COOKIE_SECURE", False) and not getattr(settings, "SECURE_HSTS_SECONDS", 0)

    def test_debug_off_means_https_unless_told_otherwise(self):
        settings = load_settings(DEBUG="0", SECRET_KEY="x" * 50, HTTPS="1")
        assert settings.SECURE_SSL_REDIRECT and settings.SESSION_COOKIE_SECURE and settings.SECURE_HSTS_SECONDS
