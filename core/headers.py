"""Response headers Django has no setting for: Permissions-Policy (settings.PERMISSIONS_POLICY).

Content-Security-Policy, Referrer-Policy, X-Content-Type-Options and X-Frame-Options come from
Django's own middleware and settings (config/settings.py). The web server's `Server` header is
dropped in config/gunicorn.conf.py.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class PermissionsPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = getattr(settings, "PERMISSIONS_POLICY", "")
        if policy:
            response.headers.setdefault("Permissions-Policy", policy)
        return response
