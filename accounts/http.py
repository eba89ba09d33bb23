from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from accounts.models import User


class Request(HttpRequest):
    """A request after AuthenticationMiddleware and HtmxMiddleware have run.

    On public pages `user` may still be anonymous; views behind
    LoginRequiredMiddleware can rely on a real User.
    """

    user: User  # type: ignore[assignment]
    htmx: HtmxDetails
