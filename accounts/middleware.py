from __future__ import annotations

from typing import Any

from django.contrib.auth.middleware import LoginRequiredMiddleware as BaseLoginRequiredMiddleware
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django_htmx.http import HttpResponseClientRedirect


class LoginRequiredMiddleware(BaseLoginRequiredMiddleware):
    """Django's, except that an htmx request sends the whole page to the login form.

    Otherwise htmx follows the redirect and swaps the login page into the fragment it asked for.
    """

    def handle_no_permission(self, request: Any, view_func: Any) -> HttpResponse:
        if getattr(request, "htmx", False):
            page = request.htmx.current_url_abs_path or request.get_full_path()
            login = redirect_to_login(page, self.get_login_url(view_func), self.get_redirect_field_name(view_func))
            return HttpResponseClientRedirect(login.url)
        return super().handle_no_permission(request, view_func)
