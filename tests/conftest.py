from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings


@pytest.fixture(autouse=True, scope="session")
def _test_settings(tmp_path_factory: pytest.TempPathFactory) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")
    # Tests sign credentials with a throwaway key, never the checkout's var/ one.
    settings.CREDENTIAL_SIGNING_KEY = ""
    settings.CREDENTIAL_SIGNING_KEY_FILE = tmp_path_factory.mktemp("keys") / "credential-signing-key.pem"


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """Rate-limit counters live in the cache; without this they would carry over from test to test
    (and user ids repeat from test to test on SQLite). The suite's Redis cache has a database of
    its own (bin/run-tests), so this never empties a broker's queues."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    request: pytest.FixtureRequest, django_db_modify_db_settings_parallel_suffix: None
) -> Iterator[None]:
    """When a collected test class says `shared_database = True` (the end-to-end tests, which
    start a real Django worker process that must open the test's database), an SQLite test
    database lives in a file (in RAM under /dev/shm where there is one) instead of pytest-django's
    in-memory default. PostgreSQL needs nothing: its test database is shared by name."""
    db = settings.DATABASES["default"]
    shared = any(getattr(item.cls, "shared_database", False) for item in request.session.items)
    if not shared or not db["ENGINE"].endswith("sqlite3"):
        yield
        return
    folder = Path("/dev/shm") if os.access("/dev/shm", os.W_OK) else Path(settings.VAR_DIR)
    name = folder / f"layerwise-test-{os.getpid()}.sqlite3"
    db.setdefault("TEST", {})["NAME"] = str(name)
    yield
    for leftover in (name, Path(f"{name}-wal"), Path(f"{name}-shm")):
        leftover.unlink(missing_ok=True)
