"""The production path, for real: `check --deploy` is clean with production settings, and
gunicorn (config/gunicorn.conf.py) serves collected, hashed static files through whitenoise,
the probes, pages over HTTPS only, and JSON log lines with request ids."""

from __future__ import annotations

import json
import os
import runpy
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from unittest import mock

import pytest
from django.test import SimpleTestCase

from tests.brokers import free_port

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def production_env(folder: Path, **extra: str) -> dict[str, str]:
    """What a production host sets (README, "Deployment"), with SQLite in a temporary folder."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {
        **keep,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "layerwise.example",
        "CSRF_TRUSTED_ORIGINS": "https://layerwise.example",
        "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
        "VAR_DIR": str(folder / "var"),
        "STATIC_ROOT": str(folder / "static"),
        "MEDIA_ROOT": str(folder / "media"),
        # Django 6.1's deploy checks refuse the console mail backend: production sends mail.
        "EMAIL_HOST": "smtp.layerwise.example",
        **extra,
    }


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


class DeployCheckTests(SimpleTestCase):
    def setUp(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="layerwise-deploy-"))
        self.addCleanup(shutil.rmtree, self.folder, True)

    def test_check_deploy_is_clean_with_production_settings(self):
        done = manage(production_env(self.folder), "check", "--deploy", "--fail-level", "WARNING")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "no issues" in done.stdout

    def test_production_refuses_to_start_without_a_secret_key(self):
        done = manage(production_env(self.folder, SECRET_KEY=""), "check")
        assert done.returncode != 0 and "SECRET_KEY is required when DEBUG is off" in done.stderr


class GunicornConfigTests(SimpleTestCase):
    def load(self, **env: str) -> dict[str, object]:
        with mock.patch.dict(os.environ, env):
            return runpy.run_path(str(REPO / "config" / "gunicorn.conf.py"))

    def test_workers_bind_and_timeouts_come_from_the_environment(self):
        conf = self.load(WEB_CONCURRENCY="3", GUNICORN_BIND="127.0.0.1:9000", GUNICORN_TIMEOUT="45")
        assert (conf["workers"], conf["bind"], conf["timeout"]) == (3, "127.0.0.1:9000", 45)
        assert conf["accesslog"] == "-" and conf["errorlog"] == "-"
        assert conf["graceful_timeout"] and conf["max_requests"] and conf["control_socket_disable"] is True
        assert "{x-request-id}o" in str(conf["access_log_format"])

    def test_the_defaults_suit_a_small_host(self):
        with mock.patch.dict(os.environ, {"PORT": "8080"}):
            for name in ("WEB_CONCURRENCY", "GUNICORN_BIND", "LOG_FORMAT"):
                os.environ.pop(name, None)
            conf = runpy.run_path(str(REPO / "config" / "gunicorn.conf.py"))
        assert conf["bind"] == "0.0.0.0:8080" and 1 < int(conf["workers"]) <= 8  # type: ignore[call-overload]
        assert "logconfig_dict" not in conf

    def test_log_format_json_makes_gunicorns_own_lines_json(self):
        conf = self.load(LOG_FORMAT="json")
        logging_config = conf["logconfig_dict"]
        assert isinstance(logging_config, dict)
        assert logging_config["loggers"]["gunicorn.access"]["propagate"] is False


@pytest.mark.slow
class GunicornServesTests(SimpleTestCase):
    """collectstatic, then gunicorn with the production settings on a free loopback port."""

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.folder = Path(tempfile.mkdtemp(prefix="layerwise-gunicorn-"))
        cls.port = free_port()
        cls.env = production_env(
            cls.folder, LOG_FORMAT="json", WEB_CONCURRENCY="1", GUNICORN_BIND=f"127.0.0.1:{cls.port}"
        )
        collected = manage(cls.env, "collectstatic", "--noinput")
        assert collected.returncode == 0, collected.stderr
        cls.log = cls.folder / "gunicorn.log"
        with cls.log.open("wb") as out:
            cls.server = subprocess.Popen(
                [str(BIN / "gunicorn"), "-c", "config/gunicorn.conf.py", "config.wsgi"],
                cwd=REPO,
                env=cls.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{cls.port}/healthz", timeout=1)
                break
            except OSError:
                if cls.server.poll() is not None or time.monotonic() > deadline:
                    cls._stop()
                    raise AssertionError(f"gunicorn did not start:\n{cls.log.read_text(errors='replace')}") from None
                time.sleep(0.1)

    @classmethod
    def tearDownClass(cls) -> None:
        cls._stop()
        super().tearDownClass()

    @classmethod
    def _stop(cls) -> None:
        if cls.server.poll() is None:
            cls.server.send_signal(signal.SIGTERM)
            try:
                cls.server.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(cls.server.pid, signal.SIGKILL)
                cls.server.wait(10)
        shutil.rmtree(cls.folder, ignore_errors=True)

    def get(self, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers=headers)

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: object, **kwargs: object) -> None:
                return None

        try:
            with urllib.request.build_opener(NoRedirect).open(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def log_lines(self) -> list[dict[str, object]]:
        time.sleep(0.2)  # gunicorn writes the access line just after the response
        return [json.loads(line) for line in self.log.read_text(errors="replace").splitlines() if line.startswith("{")]

    def test_the_probes_answer_plain_http_with_the_containers_address(self):
        status, _, body = self.get("/healthz")
        assert (status, json.loads(body)) == (200, {"status": "ok"})
        status, _, body = self.get("/readyz")
        assert status == 200 and json.loads(body)["status"] == "ok"

    def test_pages_redirect_to_https_and_are_served_behind_the_tls_proxy(self):
        status, headers, _ = self.get("/accounts/login/", Host="layerwise.example")
        assert status == 301 and headers["Location"] == "https://layerwise.example/accounts/login/"
        status, headers, body = self.get("/accounts/login/", Host="layerwise.example", **{"X-Forwarded-Proto": "https"})
        assert status == 200 and b"Log in" in body
        assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
        assert "Secure" in headers.get("Set-Cookie", "") and len(headers["X-Request-ID"]) == 32

    def test_static_files_are_hashed_compressed_and_cached_for_ever(self):
        manifest = json.loads((self.folder / "static" / "staticfiles.json").read_text())["paths"]
        hashed = manifest["css/app.css"]
        assert hashed != "css/app.css"
        _, _, page = self.get("/accounts/login/", Host="layerwise.example", **{"X-Forwarded-Proto": "https"})
        assert f"/static/{hashed}".encode() in page
        status, headers, _ = self.get(
            f"/static/{hashed}", Host="layerwise.example", **{"X-Forwarded-Proto": "https", "Accept-Encoding": "gzip"}
        )
        assert status == 200 and headers["Content-Encoding"] == "gzip"
        assert "immutable" in headers["Cache-Control"]

    def test_log_lines_are_json_with_the_request_id(self):
        _, headers, _ = self.get("/nowhere/", Host="layerwise.example", **{"X-Forwarded-Proto": "https"})
        request_id = headers["X-Request-ID"]
        mine = [line for line in self.log_lines() if line.get("request_id") == request_id]
        by_logger = {line["logger"]: line for line in mine}
        assert by_logger["django.request"]["message"] == "Not Found: /nowhere/"
        access = by_logger["gunicorn.access"]
        assert (access["method"], access["path"], access["status"]) == ("GET", "/nowhere/", 404)

    def test_no_server_software_in_the_headers_and_the_404_page_is_ours(self):
        status, headers, body = self.get("/nowhere/", Host="layerwise.example", **{"X-Forwarded-Proto": "https"})
        assert status == 404 and "Server" not in headers
        assert b"Not found \xc2\xb7 Layerwise" in body and b"URLconf" not in body and b"admin/" not in body
        assert "script-src 'self' 'nonce-" in headers["Content-Security-Policy"]
        assert headers["Referrer-Policy"] == "same-origin" and "camera=()" in headers["Permissions-Policy"]
