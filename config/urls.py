from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import URLPattern, URLResolver, include, path
from django.views.decorators.http import require_GET
from django.views.generic.base import RedirectView

from accounts.urls import team_urlpatterns
from assessments.team_urls import urlpatterns as team_progress_urlpatterns
from config.api import api


def public(patterns: Any) -> Any:
    """Exempt the API's views from LoginRequiredMiddleware: the API authenticates with tokens."""
    for pattern in patterns[0] if isinstance(patterns, tuple) else patterns:
        if isinstance(pattern, URLResolver):
            public(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            pattern.callback.login_required = False  # type: ignore[attr-defined]
    return patterns


urlpatterns = [
    # Browsers ask for /favicon.ico whatever the page's <link rel=icon> says. The unhashed name, which
    # collectstatic keeps beside the hashed one: the manifest is not there yet when urls load.
    path(
        "favicon.ico",
        login_not_required(require_GET(RedirectView.as_view(url=f"{settings.STATIC_URL}img/favicon.svg"))),
        name="favicon",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", public(api.urls)),
    path("accounts/", include("accounts.urls")),
    path("me/", include("assessments.urls")),
    # Teams: membership and invitations (accounts) and what leads see of their members (assessments).
    path("teams/", include((team_urlpatterns + team_progress_urlpatterns, "teams"))),
    path("", include("assessments.gate_urls")),
    path("", include("portfolio.urls")),
    path("", include("roadmap.urls")),
]
# MEDIA_ROOT is never served as static files, not even in DEBUG: uploaded artifacts are
# private and go out only through portfolio's download view, which checks the owner.
