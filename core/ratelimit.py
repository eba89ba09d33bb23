"""Counting events per key in fixed time windows, in Django's cache.

    LOGIN_FAILURES = RateLimit("login-username", "10/15m")
    if LOGIN_FAILURES.peek(username).blocked: refuse, saying LOGIN_FAILURES... .retry_after_text
    on a failure: LOGIN_FAILURES.hit(username)

A window starts on a multiple of its length, so a burst across a boundary may reach twice the
limit; for refusing password guessing and floods of GPU jobs that is enough, and it costs one
cache round trip (an atomic `add` then `incr`). With the default local-memory cache the counts
are per process (each gunicorn worker counts on its own); production sets REDIS_URL so all web
processes share them.

If the cache is down, limits fail open (allow, and log): a cache outage must not lock everyone
out of logging in.

Limits come from settings.RATE_LIMITS (name -> "count/period", period like 30s, 15m, 1h, 1d),
overridable per name with an environment variable, see config/settings.py.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest

log = logging.getLogger(__name__)

_RATE = re.compile(r"\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """ "10/15m" -> (10, 900): at most 10 events per 900 seconds."""
    match = _RATE.fullmatch(rate)
    if not match:
        raise ValueError(f"a rate looks like 10/15m (count/period with s, m, h or d), not {rate!r}")
    count, number, unit = match.groups()
    return int(count), int(number or 1) * _UNIT_S[unit]


@dataclass(frozen=True)
class Verdict:
    blocked: bool
    count: int
    limit: int
    window: int  # seconds
    retry_after: int  # seconds until the window ends

    @property
    def period_text(self) -> str:
        """ "hour", "15 minutes", "day" """
        for unit, seconds in (("day", 86400), ("hour", 3600), ("minute", 60)):
            if self.window % seconds == 0:
                n = self.window // seconds
                return unit if n == 1 else f"{n} {unit}s"
        return f"{self.window} seconds"

    @property
    def retry_after_text(self) -> str:
        """ "in 1 minute", "in 14 minutes", "in 2 hours" (rounded up: never sooner than true)."""
        minutes = max(1, math.ceil(self.retry_after / 60))
        if minutes <= 90:
            return f"in {minutes} minute{'s' if minutes != 1 else ''}"
        hours = math.ceil(minutes / 60)
        return f"in {hours} hours"


@dataclass(frozen=True)
class RateLimit:
    name: str
    default: str  # "count/period", used when settings.RATE_LIMITS has no entry for `name`

    @property
    def rate(self) -> tuple[int, int]:
        return parse_rate(getattr(settings, "RATE_LIMITS", {}).get(self.name, self.default))

    def peek(self, ident: object) -> Verdict:
        """Whether one more event for `ident` would be refused, without counting one."""
        limit, window = self.rate
        key, retry_after = self._key(ident, window)
        try:
            count = int(caches["default"].get(key, 0))
        except Exception:
            log.warning("rate limit %s: the cache is unavailable; allowing", self.name, exc_info=True)
            count = 0
        return Verdict(blocked=count >= limit, count=count, limit=limit, window=window, retry_after=retry_after)

    def hit(self, ident: object) -> Verdict:
        """Count one event; blocked when it goes past the limit."""
        limit, window = self.rate
        key, retry_after = self._key(ident, window)
        cache = caches["default"]
        try:
            # add is a no-op when the key exists, and incr is atomic in Redis and locked in
            # locmem, so concurrent hits are all counted. The key outlives its window a little.
            cache.add(key, 0, timeout=window + 5)
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window + 5)
            count = 1
        except Exception:
            log.warning("rate limit %s: the cache is unavailable; allowing", self.name, exc_info=True)
            count = 0
        return Verdict(blocked=count > limit, count=count, limit=limit, window=window, retry_after=retry_after)

    def reset(self, ident: object) -> None:
        _, window = self.rate
        try:
            caches["default"].delete(self._key(ident, window)[0])
        except Exception:
            log.warning("rate limit %s: the cache is unavailable", self.name, exc_info=True)

    def _key(self, ident: object, window: int) -> tuple[str, int]:
        now = time.time()
        start = int(now // window) * window
        # Hashed: usernames and addresses stay out of the cache's keys, and any length fits.
        digest = hashlib.sha256(str(ident).encode()).hexdigest()[:32]
        return f"ratelimit:{self.name}:{window}:{start}:{digest}", max(1, math.ceil(start + window - now))


def client_ip(request: HttpRequest) -> str:
    """The client's address, for per-address limits.

    Behind TRUSTED_PROXIES reverse proxies (each appending to X-Forwarded-For), the address the
    nearest trusted proxy saw; otherwise REMOTE_ADDR. IPv6 clients are grouped by their /64, which
    one host usually has to itself.
    """
    address = request.META.get("REMOTE_ADDR", "")
    proxies = getattr(settings, "TRUSTED_PROXIES", 0)
    if proxies:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if len(forwarded) >= proxies:
            address = forwarded[-proxies]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address or "unknown"
    if ip.version == 6 and not ip.ipv4_mapped:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped or ip) if ip.version == 6 else str(ip)
