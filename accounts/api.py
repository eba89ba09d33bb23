"""What every API endpoint shares: token authentication (`Authorization: Bearer <token>`), writes
that are all or nothing, and choices documented from the models' own."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.db import models, transaction
from django.http import HttpRequest, HttpResponse
from ninja.security import HttpBearer
from pydantic import WithJsonSchema

from accounts.models import ApiToken, User


class TokenAuth(HttpBearer):
    """Accepts an active ApiToken; a wrong or revoked one gets the API's 401 JSON answer."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = ApiToken.authenticate(token)
        if user is not None:
            request.user = user
        return user


token_auth = TokenAuth()


def atomic_write(run: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap an API write (`@decorate_view(atomic_write)` under the route) in one transaction that a
    refusal rolls back: any answer of 400 or more, or an exception. So a refused request leaves
    nothing behind (no draft, no half-pinned evidence), whichever model verb refused it and
    however many had run before."""

    @functools.wraps(run)
    def write(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with transaction.atomic():
            response = run(request, *args, **kwargs)
            if response.status_code >= 400:
                transaction.set_rollback(True)
        return response

    return write


def choices(of: type[models.TextChoices]) -> WithJsonSchema:
    """The OpenAPI of a field typed with a model's TextChoices (`Annotated[Run.Status,
    choices(Run.Status)]`): its values written in place. Named components would collide, since
    several models call theirs `Status` or `Kind` and the schema keeps one per name."""
    return WithJsonSchema({"type": "string", "enum": list(of.values)})
