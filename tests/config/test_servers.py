"""On bin/run-tests' second pass (LAYERWISE_SERVERS_PASS=1) the suite must really run on
PostgreSQL, with Redis as the broker and the cache: a mistake in the script that fell back to
SQLite would otherwise go unnoticed while the pass stays green."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import TestCase

from config.celery import app


class ServersPassTests(TestCase):
    def setUp(self) -> None:
        if os.environ.get("LAYERWISE_SERVERS_PASS") != "1":
            self.skipTest("only on bin/run-tests' PostgreSQL + Redis pass")

    def test_the_database_is_postgresql(self):
        assert connection.vendor == "postgresql"
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            assert cursor.fetchone()[0]

    def test_the_broker_and_the_cache_are_redis_on_separate_databases(self):
        assert app.connection_for_write().transport_cls == "redis"
        assert settings.CELERY_BROKER_URL.endswith("/0") and settings.CACHE_URL.endswith("/1")
        assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
        cache.set("servers-pass", "ok")
        assert cache.get("servers-pass") == "ok"
