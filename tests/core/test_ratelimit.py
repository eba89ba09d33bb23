"""The rate-limit helper: fixed windows in the cache, fail-open, client addresses."""

from __future__ import annotations

from unittest import mock

from django.test import RequestFactory, SimpleTestCase, override_settings

from core.ratelimit import RateLimit, Verdict, client_ip, parse_rate
from tests.brokers import dead_cache

LIMIT = RateLimit("test-limit", "3/1m")


class RateLimitTests(SimpleTestCase):
    def setUp(self) -> None:
        from django.core.cache import cache

        cache.clear()

    def test_rates_read_as_count_per_period(self):
        assert parse_rate("10/15m") == (10, 900)
        assert parse_rate("20/h") == (20, 3600) and parse_rate("5 / 1d") == (5, 86400)
        with self.assertRaisesMessage(ValueError, "a rate looks like 10/15m"):
            parse_rate("10 per minute")

    def test_the_limit_blocks_past_the_count_and_per_key(self):
        verdicts = [LIMIT.hit("ada") for _ in range(4)]
        assert [v.blocked for v in verdicts] == [False, False, False, True]
        assert LIMIT.peek("ada").blocked and not LIMIT.peek("bob").blocked
        assert 0 < verdicts[-1].retry_after <= 60

    def test_peeking_counts_nothing_and_reset_starts_again(self):
        for _ in range(3):
            assert not LIMIT.peek("ada").blocked
        for _ in range(3):
            LIMIT.hit("ada")
        assert LIMIT.peek("ada").blocked
        LIMIT.reset("ada")
        assert not LIMIT.peek("ada").blocked and LIMIT.peek("ada").count == 0

    def test_the_next_window_starts_from_zero(self):
        with mock.patch("core.ratelimit.time.time", return_value=1_000_020.0):
            for _ in range(4):
                LIMIT.hit("ada")
            blocked = LIMIT.peek("ada")
        with mock.patch("core.ratelimit.time.time", return_value=1_000_020.0 + blocked.retry_after):
            assert not LIMIT.peek("ada").blocked

    @override_settings(RATE_LIMITS={"test-limit": "1/1h"})
    def test_settings_override_the_default_rate(self):
        assert not LIMIT.hit("ada").blocked and LIMIT.hit("ada").blocked

    def test_a_dead_cache_lets_everyone_through(self):
        with override_settings(CACHES=dead_cache()), self.assertLogs("core.ratelimit", "WARNING"):
            assert not any(LIMIT.hit("ada").blocked for _ in range(5))
            assert not LIMIT.peek("ada").blocked
            LIMIT.reset("ada")

    def test_retry_after_reads_in_minutes_or_hours_rounded_up(self):
        def text(seconds: int) -> str:
            return Verdict(blocked=True, count=9, limit=8, window=3600, retry_after=seconds).retry_after_text

        assert (text(1), text(60), text(61), text(899)) == (
            "in 1 minute",
            "in 1 minute",
            "in 2 minutes",
            "in 15 minutes",
        )
        assert text(3 * 3600) == "in 3 hours"
        assert Verdict(blocked=False, count=0, limit=1, window=900, retry_after=1).period_text == "15 minutes"


class ClientAddressTests(SimpleTestCase):
    def request(self, remote: str, forwarded: str = "") -> object:
        return RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)

    def test_without_trusted_proxies_the_forwarded_header_is_ignored(self):
        assert client_ip(self.request("203.0.113.9", "198.51.100.1")) == "203.0.113.9"

    @override_settings(TRUSTED_PROXIES=1)
    def test_behind_one_proxy_the_address_it_saw_counts_not_what_the_client_claims(self):
        assert client_ip(self.request("10.0.0.2", "6.6.6.6, 198.51.100.7")) == "198.51.100.7"
        assert client_ip(self.request("10.0.0.2")) == "10.0.0.2"

    def test_ipv6_clients_are_grouped_by_their_64(self):
        assert client_ip(self.request("2001:db8:1:2::5")) == client_ip(self.request("2001:db8:1:2:ffff::9"))
        assert client_ip(self.request("2001:db8:1:2::5")) == "2001:db8:1:2::/64"
        assert client_ip(self.request("::ffff:198.51.100.4")) == "198.51.100.4"
