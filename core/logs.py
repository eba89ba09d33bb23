"""Request ids for the web app's log lines.

Each request gets an id, taken from the proxy's `X-Request-ID` when it looks like one (so a line
in the proxy's log and the app's can be matched) or made here; it goes back in the response's
`X-Request-ID` header and onto every log line written while the request is handled.

The JSON lines themselves (LOG_FORMAT=json) come from portfolio/runner/jsonlog.py, which the runner
shares; settings.LOGGING and config/celery.py wire it in, since this bottom layer may not import it.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

__all__ = ["RequestIdFilter", "RequestIdMiddleware", "current_request_id"]

_request_id: ContextVar[str] = ContextVar("request_id", default="")

# Whatever the client sends goes into log lines: accept only short, plain ids, never a newline.
_ACCEPTABLE = re.compile(r"[A-Za-z0-9._:-]{8,128}")


def current_request_id() -> str:
    return _request_id.get()


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on each record (none outside a request). Django logs 4xx and
    5xx responses after the middleware has returned, with the request on the record: its id is
    taken from there."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        request_id = getattr(request, "request_id", "") or _request_id.get()
        if request_id and not hasattr(record, "request_id"):
            record.request_id = request_id
        return True


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        offered = request.headers.get("X-Request-ID", "")
        request_id = offered if _ACCEPTABLE.fullmatch(offered) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response
