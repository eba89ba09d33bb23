"""The nav's notification bell: `{% load notifications %}{% unread_count as n %}`."""

from __future__ import annotations

from django import template

from accounts.models import Notification

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_count(context: template.Context) -> int:
    """One count over the (user, read_at) index; nothing for an anonymous visitor."""
    user = context.get("user")
    if user is None or not user.is_authenticated:
        return 0
    return Notification.objects.of(user).unread().count()
