"""What the nav shows on every page: `unread_notifications` for the bell (settings.TEMPLATES)."""

from __future__ import annotations

from functools import cache, partial
from typing import Any

from accounts.http import Request
from accounts.models import Notification


def notifications(request: Request) -> dict[str, Any]:
    """A callable, which templates call when they first read it: a response without the nav, such as
    an htmx fragment, runs no query, and one that draws the bell runs one."""
    return {"unread_notifications": cache(partial(_unread_count, request))}


def _unread_count(request: Request) -> int:
    """One count over the (user, read_at) index; nothing for an anonymous visitor."""
    user = request.user
    return Notification.objects.of(user).unread().count() if user.is_authenticated else 0
