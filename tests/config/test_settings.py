"""config/settings.py read with other environments: each test loads a fresh copy of the module
with the variables it names (VAR_DIR in a temporary folder), without touching this process's
settings."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.test import SimpleTestCase

from core.ratelimit import parse_rate
from tests.config.helpers import load_settings


class SettingsTests(SimpleTestCase):
    def test_the_embedded_defaults_use_a_per_process_cache(self):
        settings = load_settings()
        assert settings.CACHES["default"]["BACKEND"].endswith("LocMemCache")
        assert settings.LOG_FORMAT == "plain" and settings.LOGGING["handlers"]["console"]["formatter"] == "plain"

    def test_redis_url_gives_a_shared_cache_that_fails_fast(self):
        settings = load_settings(REDIS_URL="redis://cache.internal:6379/1")
        cache = settings.CACHES["default"]
        assert cache["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
        assert cache["LOCATION"] == "redis://cache.internal:6379/1"
        assert cache["OPTIONS"]["socket_connect_timeout"] <= 2
        assert (
            load_settings(REDIS_URL="redis://a/1", CACHE_URL="redis://b/2").CACHES["default"]["LOCATION"]
            == "redis://b/2"
        )

    def test_log_format_json_switches_the_formatter_and_anything_else_is_refused(self):
        assert load_settings(LOG_FORMAT="json").LOGGING["handlers"]["console"]["formatter"] == "json"
        with self.assertRaisesMessage(ImproperlyConfigured, "LOG_FORMAT must be plain or json, not 'xml'"):
            load_settings(LOG_FORMAT="xml")

    def test_rate_limits_can_be_changed_per_name(self):
        settings = load_settings(RATE_LIMIT_RUN_SUBMISSIONS="5/1d")
        assert parse_rate(settings.RATE_LIMITS["run-submissions"]) == (5, 86400)
        assert parse_rate(settings.RATE_LIMITS["login-username"]) == (10, 900)

    def test_postgresql_connections_persist_with_health_checks_and_a_connect_timeout(self):
        settings = load_settings(DATABASE_URL="postgres://app:pw@db.internal:5432/layerwise?sslmode=require")
        db = settings.DATABASES["default"]
        assert db["ENGINE"] == "django.db.backends.postgresql" and db["HOST"] == "db.internal"
        assert db["CONN_MAX_AGE"] == 60 and db["CONN_HEALTH_CHECKS"] is True
        assert db["OPTIONS"] == {"connect_timeout": 5, "sslmode": "require"}

    def test_a_redis_broker_outlasts_the_longest_run_and_never_hangs_a_request(self):
        settings = load_settings(CELERY_BROKER_URL="redis://broker.internal:6379/0")
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        assert options["visibility_timeout"] > settings.RUNNER_HARD_LIMIT_S
        assert 1 < options["socket_timeout"] <= 10 and options["socket_connect_timeout"] <= 5
