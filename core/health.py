"""Liveness and readiness probes for load balancers and orchestrators.

`/healthz` answers as long as the process can serve a request: no I/O, so a database outage never
makes an orchestrator restart healthy web processes. `/readyz` says whether this process can do
its work: the database answers `SELECT 1`, the broker is reachable (Redis answers PING; the
filesystem broker's folders exist and are writable), and the cache answers. 200 when all are up,
503 otherwise, with a status per component and never a URL, host or password.

Probes come over plain HTTP with whatever Host the orchestrator uses (a container's address), so
HealthCheckMiddleware answers these two paths before the Host check, the HTTPS redirect, sessions
and the login requirement run.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse

log = logging.getLogger(__name__)

# Both probes run every few seconds: every check must give up quickly.
CHECK_TIMEOUT_S = 2.0


def healthz(request: HttpRequest) -> JsonResponse:
    return _no_store(JsonResponse({"status": "ok"}))


def readyz(request: HttpRequest) -> JsonResponse:
    checks = {name: _timed(check) for name, check in CHECKS.items()}
    ready = all(c["status"] == "ok" for c in checks.values())
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    return _no_store(JsonResponse(body, status=200 if ready else 503))


def check_database() -> None:
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        # A persistent connection that broke stays broken: drop it so the next probe reconnects.
        connection.close_if_unusable_or_obsolete()
        raise


def check_broker() -> None:
    url = settings.CELERY_BROKER_URL
    if url.startswith("filesystem"):
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
            folder = Path(str(options[key]))
            if not folder.is_dir():
                raise OSError(f"the broker's {key} does not exist")
            if not os.access(folder, os.W_OK | os.X_OK):
                raise OSError(f"the broker's {key} is not writable")
    elif url.startswith(("redis://", "rediss://", "unix://")):
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=CHECK_TIMEOUT_S, socket_timeout=CHECK_TIMEOUT_S)
        try:
            client.ping()
        finally:
            client.close()
    else:
        from celery import current_app

        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT_S)


def check_cache() -> None:
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    try:
        if cache.get(key) != "1":
            raise RuntimeError("the cache did not return what was just stored")
    finally:
        cache.delete(key)


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "broker": check_broker,
    "cache": check_cache,
}


def _timed(check: Callable[[], None]) -> dict[str, Any]:
    started = time.monotonic()
    try:
        check()
    except Exception as exc:
        # The exception's text can name hosts or paths: it goes to the log, only its type out.
        log.warning("readiness check %s failed: %s: %s", check.__name__, type(exc).__name__, exc)
        return {"status": "down", "error": type(exc).__name__, "ms": _ms(started)}
    return {"status": "ok", "ms": _ms(started)}


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)


def _no_store(response: JsonResponse) -> JsonResponse:
    response["Cache-Control"] = "no-store"
    return response


PROBES: dict[str, Callable[[HttpRequest], JsonResponse]] = {"/healthz": healthz, "/readyz": readyz}


class HealthCheckMiddleware:
    """First in MIDDLEWARE: answers GET/HEAD on the two probe paths before anything else runs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info.rstrip("/") or "/")
        if probe is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            response = JsonResponse({"status": "error", "message": "Use GET."}, status=405)
            response["Allow"] = "GET, HEAD"
            return response
        return probe(request)
