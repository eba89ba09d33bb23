"""Sign up and the profile page with API tokens. Log in, log out and passwords are Django's views."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.forms import Form
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.forms import SIGNUPS_PER_ADDRESS, LoginForm, ProfileForm, SignupForm, TokenForm
from accounts.models import ApiToken
from config.http import Request
from config.ratelimit import client_ip


class LoginView(auth_views.LoginView):
    """Django's log-in page with LoginForm; refused for too many failures it answers 429."""

    form_class = LoginForm
    redirect_authenticated_user = True

    def form_invalid(self, form: Form) -> HttpResponse:
        response = super().form_invalid(form)
        if form.has_error("__all__", "rate_limited"):
            response.status_code = 429
            response["Retry-After"] = str(form.retry_after)  # type: ignore[attr-defined]
        return response


@login_not_required
@require_http_methods(["GET", "POST"])
def signup(request: Request) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("assessments:dashboard")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and (verdict := SIGNUPS_PER_ADDRESS.hit(client_ip(request))).blocked:
        form.add_error(None, f"Too many sign-ups from your network. Try again {verdict.retry_after_text}.")
        return render(request, "registration/signup.html", {"form": form}, status=429)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {user.name}. Pick a roadmap and mark your first topic.")
        return redirect("roadmap:roadmap-list")
    return render(request, "registration/signup.html", {"form": form})


def _profile(request: Request, *, tokens_only: bool = False, **context: object) -> HttpResponse:
    """The profile page, or only its API tokens section for an htmx request about tokens."""
    context.setdefault("form", ProfileForm(instance=request.user))
    context.setdefault("token_form", TokenForm())
    context["tokens"] = ApiToken.objects.of(request.user)
    context["memberships"] = request.user.memberships.select_related("team")
    template = "accounts/profile.html#api-tokens" if tokens_only and request.htmx else "accounts/profile.html"
    return render(request, template, context)


@require_GET
def profile(request: Request) -> HttpResponse:
    return _profile(request)


@require_POST
def profile_update(request: Request) -> HttpResponse:
    form = ProfileForm(request.POST, instance=request.user)
    if form.is_valid():
        form.save()
        messages.success(request, "Profile saved.")
        return redirect("accounts:profile")
    return _profile(request, form=form)


@require_POST
def token_create(request: Request) -> HttpResponse:
    """Shows the new token once, in this response; only its hash is stored."""
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _profile(request, token_form=form, tokens_only=True)
    token, raw = ApiToken.issue(request.user, form.cleaned_data["name"])
    return _profile(request, tokens_only=True, new_token=raw, new_token_row=token)


@require_POST
def token_revoke(request: Request, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken.objects.of(request.user), pk=pk)
    token.revoke()
    if request.htmx:
        return _profile(request, tokens_only=True)
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("accounts:profile")
