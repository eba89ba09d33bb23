"""API authentication: `Authorization: Bearer <token>` with an ApiToken (stored hashed).

Minimal version written on the portfolio branch because the portfolio API needs it; the learners
branch owns this module and may replace it (keep the class name TokenAuth).
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from accounts.models import ApiToken, User


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = ApiToken.authenticate(token)
        if user is not None:
            request.user = user
        return user
