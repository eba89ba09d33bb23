"""Token authentication for the API: `Authorization: Bearer <token>`."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from accounts.models import ApiToken, User


class TokenAuth(HttpBearer):
    """Accepts an active ApiToken; a wrong or revoked one gets the API's 401 JSON answer."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = ApiToken.authenticate(token)
        if user is not None:
            request.user = user
        return user


token_auth = TokenAuth()
