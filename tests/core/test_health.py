"""/healthz and /readyz: answered for any Host, over plain HTTP, without logging in; readyz is 503
with the database, the broker or the cache down, and never shows a URL, host or password."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connections
from django.test import TestCase, override_settings

from tests.brokers import dead_cache, filesystem_options, free_port

PRODUCTION_LIKE = {"ALLOWED_HOSTS": ["layerwise.example"], "SECURE_SSL_REDIRECT": True}


@contextmanager
def database_down() -> Iterator[None]:
    """Swap the default connection for one to a database that cannot be reached, through the
    real driver: an SQLite file in a folder that does not exist, or a PostgreSQL port nobody
    listens on. The test's own connection (and its transaction) is put back afterwards."""
    original = connections["default"]
    broken = connections.create_connection("default")
    if broken.vendor == "sqlite":
        broken.settings_dict = {**broken.settings_dict, "NAME": "/nonexistent-layerwise/db.sqlite3"}
    else:
        broken.settings_dict = {**broken.settings_dict, "HOST": "127.0.0.1", "PORT": str(free_port())}
    connections["default"] = broken
    try:
        yield
    finally:
        connections["default"] = original
        broken.close()


@override_settings(**PRODUCTION_LIKE)
class HealthzTests(TestCase):
    def test_it_answers_without_io_for_any_host_over_plain_http(self):
        with self.assertNumQueries(0):
            response = self.client.get("/healthz", headers={"host": "10.1.2.3:8000"})
        assert response.status_code == 200 and response.json() == {"status": "ok"}
        assert response["Content-Type"] == "application/json" and response["Cache-Control"] == "no-store"

    def test_it_needs_no_login_and_takes_no_posts(self):
        assert self.client.get("/healthz/").status_code == 200
        assert self.client.head("/healthz").status_code == 200
        response = self.client.post("/healthz")
        assert response.status_code == 405 and response["Allow"] == "GET, HEAD"

    def test_other_paths_still_check_the_host_and_redirect_to_https(self):
        assert self.client.get("/roadmaps/", headers={"host": "10.1.2.3:8000"}).status_code == 400
        response = self.client.get("/roadmaps/", headers={"host": "layerwise.example"})
        assert response.status_code == 301 and response["Location"].startswith("https://layerwise.example/")

    def test_it_stays_up_with_the_database_down(self):
        with database_down():
            assert self.client.get("/healthz").status_code == 200


@override_settings(**PRODUCTION_LIKE)
class ReadyzTests(TestCase):
    def test_ready_when_the_database_the_broker_and_the_cache_answer(self):
        response = self.client.get("/readyz", headers={"host": "10.1.2.3:8000"})
        body = response.json()
        assert response.status_code == 200, body
        assert body["status"] == "ok"
        assert {name: check["status"] for name, check in body["checks"].items()} == {
            "database": "ok",
            "broker": "ok",
            "cache": "ok",
        }
        assert all(check["ms"] >= 0 for check in body["checks"].values())

    def test_503_with_the_database_down(self):
        with database_down():
            response = self.client.get("/readyz")
        body = response.json()
        assert response.status_code == 503 and body["status"] == "unavailable"
        assert body["checks"]["database"]["status"] == "down"
        assert body["checks"]["database"]["error"] == "OperationalError"
        assert body["checks"]["broker"]["status"] == "ok"
        # Once the database is back, the next probe is ready again.
        assert self.client.get("/readyz").status_code == 200

    def test_503_with_a_redis_broker_that_refuses_and_no_password_shown(self):
        url = f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"
        with override_settings(CELERY_BROKER_URL=url):
            response = self.client.get("/readyz")
        body = response.json()
        assert response.status_code == 503
        assert body["checks"]["broker"] == {
            "status": "down",
            "error": "ConnectionError",
            "ms": body["checks"]["broker"]["ms"],
        }
        assert body["checks"]["database"]["status"] == "ok"
        assert b"hunter2" not in response.content and b"127.0.0.1" not in response.content

    def test_503_with_the_filesystem_brokers_folders_missing(self):
        folder = Path(tempfile.mkdtemp(prefix="layerwise-readyz-"))
        self.addCleanup(shutil.rmtree, folder, True)
        options = filesystem_options(folder)
        with override_settings(CELERY_BROKER_URL="filesystem://", CELERY_BROKER_TRANSPORT_OPTIONS=options):
            missing = self.client.get("/readyz")
            for name in ("out", "processed", "control"):
                (folder / name).mkdir()
            ready = self.client.get("/readyz")

        assert missing.status_code == 503 and missing.json()["checks"]["broker"]["error"] == "OSError"
        assert str(folder).encode() not in missing.content
        assert ready.status_code == 200

    def test_503_with_the_cache_down(self):
        with override_settings(CACHES=dead_cache()):
            response = self.client.get("/readyz")
        assert response.status_code == 503 and response.json()["checks"]["cache"]["status"] == "down"

    def test_the_probes_never_show_the_secret_key_or_the_database_settings(self):
        content = self.client.get("/readyz").content + self.client.get("/healthz").content
        db = settings.DATABASES["default"]
        assert settings.SECRET_KEY.encode() not in content
        assert str(db["NAME"]).encode() not in content
