"""Sign up, the profile page with API tokens, teams and their invitations, notifications.

Log in is Django's view with a rate-limited form; log out and passwords are Django's views. Team
pages that show learner data (the matrix, drill-down) live in assessments/team_views.py under the
same /teams/ prefix.
"""

from __future__ import annotations

import rules
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.forms import Form
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.forms import (
    EMAIL_LINKS_PER_ACCOUNT,
    SIGNUPS_PER_ADDRESS,
    InviteForm,
    LoginForm,
    ProfileForm,
    RoleForm,
    SignupForm,
    TeamForm,
    TokenForm,
)
from accounts.http import Request
from accounts.models import ApiToken, EmailLinkError, Membership, Notification, Team, TeamError, TeamInvite
from core.ratelimit import client_ip


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


def _safe_next(request: Request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return default


@login_not_required
@require_http_methods(["GET", "POST"])
def signup(request: Request) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("assessments:dashboard")
    form = SignupForm(request.POST or None)
    # An invitation link sends people here through the login page; they come back to it after.
    next_url = _safe_next(request, "")
    if request.method == "POST" and (verdict := SIGNUPS_PER_ADDRESS.hit(client_ip(request))).blocked:
        form.add_error(None, f"Too many sign-ups from your network. Try again {verdict.retry_after_text}.")
        return render(request, "registration/signup.html", {"form": form, "next": next_url}, status=429)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        user.send_email_link()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        sent = f"We mailed a link to {user.pending_email}: follow it to confirm your address."
        if next_url:
            messages.success(request, f"Welcome, {user.name}. {sent}")
            return redirect(next_url)
        messages.success(request, f"Welcome, {user.name}. {sent} Meanwhile, pick a roadmap and mark your first topic.")
        return redirect("roadmap:roadmap-list")
    return render(request, "registration/signup.html", {"form": form, "next": next_url})


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
    if not form.is_valid():
        return _profile(request, form=form)
    address = form.cleaned_data["email"].strip()
    # Left empty, the addresses stay as they are (an address is replaced, never removed, here).
    asks_new = bool(address) and address.lower() not in {request.user.email.lower(), request.user.pending_email.lower()}
    if asks_new and (verdict := EMAIL_LINKS_PER_ACCOUNT.hit(f"user:{request.user.pk}")).blocked:
        form.add_error("email", f"Too many confirmation mails for now. Try again {verdict.retry_after_text}.")
        response = _profile(request, form=form)
        response.status_code = 429
        return response
    form.save()
    if address and request.user.request_email(address):
        messages.success(
            request,
            f"Profile saved. We mailed a link to {address}; your address stays "
            f"{request.user.email or 'unset'} until you follow it.",
        )
    else:
        messages.success(request, "Profile saved.")
    return redirect("accounts:profile")


@require_POST
def email_resend(request: Request) -> HttpResponse:
    """Send the confirmation link again, for the address waiting to be confirmed."""
    if not request.user.address_to_confirm:
        messages.info(request, "Your address is confirmed; there is nothing to send.")
    elif (verdict := EMAIL_LINKS_PER_ACCOUNT.hit(f"user:{request.user.pk}")).blocked:
        messages.error(request, f"Too many confirmation mails for now. Try again {verdict.retry_after_text}.")
    else:
        request.user.send_email_link()
        messages.success(request, f"We mailed a new link to {request.user.address_to_confirm}.")
    return redirect("accounts:profile")


@require_POST
def email_cancel(request: Request) -> HttpResponse:
    """Drop a pending change; the address in use stays, and links sent for the other one stop working."""
    if request.user.pending_email and request.user.email:
        request.user.pending_email = ""
        request.user.save(update_fields=["pending_email"])
        messages.success(request, f"Change cancelled; your address stays {request.user.email}.")
    return redirect("accounts:profile")


@require_http_methods(["GET", "POST"])
def email_confirm(request: Request, token: str) -> HttpResponse:
    """A confirmation link: it needs the account that asked for it logged in, and confirming is a
    POST, so a mail client's link preview does not use it up."""
    try:
        request.user.check_email_token(token)
        if request.method == "POST":
            address = request.user.confirm_email(token)
            messages.success(request, f"{address} is confirmed: it is now your account's address.")
            return redirect("accounts:profile")
    except EmailLinkError as exc:
        return render(request, "accounts/email_confirm.html", {"error": str(exc)}, status=400)
    return render(request, "accounts/email_confirm.html", {"address": request.user.address_to_confirm})


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


# --- teams ------------------------------------------------------------------------------------


def _team(request: Request, slug: str, rule: str = "teams.view") -> Team:
    """A team of the user's (anyone else's is a 404), checked against a rule of accounts/rules.py (403)."""
    team = get_object_or_404(Team.objects.of(request.user), slug=slug)
    if not rules.test_rule(rule, request.user, team):
        raise PermissionDenied("Only a lead of this team can do that." if rule == "teams.manage" else "")
    return team


@require_GET
def team_list(request: Request) -> HttpResponse:
    context = {
        "teams": Team.objects.of(request.user),
        "invites": TeamInvite.objects.addressed_to(request.user).pending().select_related("team", "created_by"),
    }
    return render(request, "accounts/team_list.html", context)


@require_http_methods(["GET", "POST"])
def team_create(request: Request) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        team = Team.create_with_lead(request.user, **form.cleaned_data)
        messages.success(request, f"Team “{team.name}” created, with you as its lead. Invite people next.")
        return redirect("teams:invite-list", team.slug)
    return render(request, "accounts/team_form.html", {"form": form})


def _team_detail(request: Request, team: Team, **context: object) -> HttpResponse:
    """The team page, or only its member list for an htmx request that changed it."""
    context.update(
        team=team,
        members=list(team.memberships.leads_first()),
        can_manage=rules.test_rule("teams.manage", request.user, team),
        can_view_progress=rules.test_rule("teams.view_member_progress", request.user, team),
        role_choices=Membership.Role.choices,
        invite_days=TeamInvite.DAYS,
        quiet_days=Team.QUIET_DAYS,
    )
    template = "accounts/team_detail.html#team-members" if context.pop("members_only", False) else None
    return render(request, template or "accounts/team_detail.html", context)


@require_GET
def team_detail(request: Request, slug: str) -> HttpResponse:
    return _team_detail(request, _team(request, slug))


def _after_member_change(request: Request, team: Team, error: str = "") -> HttpResponse:
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect(team.get_absolute_url())
    # Read the team again: the lead may just have changed their own role.
    return _team_detail(request, _team(request, team.slug), members_only=True, error=error)


@require_POST
def member_role(request: Request, slug: str, pk: int) -> HttpResponse:
    team = _team(request, slug, "teams.manage")
    membership = get_object_or_404(team.memberships.select_related("user"), pk=pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        return _after_member_change(request, team, "Choose member, reviewer or lead.")
    try:
        team.change_role(membership, form.cleaned_data["role"], by=request.user)
    except TeamError as exc:
        return _after_member_change(request, team, str(exc))
    return _after_member_change(request, team)


@require_POST
def member_remove(request: Request, slug: str, pk: int) -> HttpResponse:
    team = _team(request, slug, "teams.manage")
    membership = get_object_or_404(team.memberships.select_related("user"), pk=pk)
    try:
        team.remove(membership, by=request.user)
    except TeamError as exc:
        return _after_member_change(request, team, str(exc))
    if membership.user_id == request.user.pk:
        messages.success(request, f"You left {team.name}.")
        if request.htmx:
            return HttpResponseClientRedirect(reverse("teams:team-list"))
        return redirect("teams:team-list")
    return _after_member_change(request, team)


@require_POST
def team_leave(request: Request, slug: str) -> HttpResponse:
    team = _team(request, slug)
    membership = get_object_or_404(team.memberships, user=request.user)
    try:
        team.remove(membership, by=request.user)
    except TeamError as exc:
        messages.error(request, str(exc))
        return redirect(team.get_absolute_url())
    messages.success(request, f"You left {team.name}.")
    return redirect("teams:team-list")


@require_http_methods(["GET", "POST"])
def team_settings(request: Request, slug: str) -> HttpResponse:
    team = _team(request, slug, "teams.manage")
    form = TeamForm(request.POST or None, instance=team)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Team settings saved.")
        return redirect(team.get_absolute_url())
    return render(request, "accounts/team_settings.html", {"team": team, "form": form})


# --- invitations ------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def invite_list(request: Request, slug: str) -> HttpResponse:
    """Pending and past invitations, and the form for a new one, whose link this response shows once."""
    team = _team(request, slug, "teams.manage")
    form = InviteForm(request.POST or None)
    context: dict[str, object] = {"team": team}
    if request.method == "POST" and form.is_valid():
        try:
            invite, raw = TeamInvite.issue(team, by=request.user, **form.cleaned_data)
        except TeamError as exc:
            form.add_error("email", str(exc))
        else:
            context.update(new_invite=invite, new_link=request.build_absolute_uri(invite.get_link(raw)))
            form = InviteForm()
    invites = TeamInvite.objects.of_team(team).select_related("invitee", "created_by", "accepted_by")
    context.update(form=form, pending=invites.pending(), closed=invites.closed()[:20])
    template = "accounts/invite_list.html#invites" if request.htmx else "accounts/invite_list.html"
    return render(request, template, context)


@require_POST
def invite_revoke(request: Request, slug: str, pk: int) -> HttpResponse:
    team = _team(request, slug, "teams.manage")
    invite = get_object_or_404(TeamInvite.objects.of_team(team), pk=pk)
    if invite.revoke():
        messages.success(request, "Invitation revoked: its link no longer works.")
    else:
        messages.error(request, invite.closed_reason or "That invitation is not pending.")
    return redirect("teams:invite-list", team.slug)


@require_http_methods(["GET", "POST"])
def invite_accept(request: Request, slug: str, token: str) -> HttpResponse:
    """An invitation link: the page says which team and role; joining is a POST, so no link preview
    or prefetch uses it up. Logged-out visitors log in or sign up first and come back here."""
    invite = TeamInvite.find(slug, token)
    if invite is None:
        raise Http404("No such invitation. Check that the link was copied whole.")
    member = invite.team.memberships.filter(user=request.user).exists()
    if request.method == "POST" and not member:
        try:
            invite.accept(request.user)
        except TeamError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Welcome to {invite.team.name}.")
            return redirect(invite.team.get_absolute_url())
    elif request.method == "POST":
        return redirect(invite.team.get_absolute_url())
    status = 200 if invite.is_pending or member else 410
    return render(request, "accounts/invite_accept.html", {"invite": invite, "member": member}, status=status)


def _addressed_invite(request: Request, pk: int) -> TeamInvite:
    return get_object_or_404(TeamInvite.objects.addressed_to(request.user).select_related("team"), pk=pk)


@require_POST
def invitation_accept(request: Request, pk: int) -> HttpResponse:
    invite = _addressed_invite(request, pk)
    try:
        invite.accept(request.user)
    except TeamError as exc:
        messages.error(request, str(exc))
        return redirect("teams:team-list")
    messages.success(request, f"Welcome to {invite.team.name}.")
    return redirect(invite.team.get_absolute_url())


@require_POST
def invitation_decline(request: Request, pk: int) -> HttpResponse:
    invite = _addressed_invite(request, pk)
    if invite.decline():
        messages.success(request, f"Invitation to {invite.team.name} declined.")
    return redirect("teams:team-list")


# --- notifications ----------------------------------------------------------------------------


def _notifications(request: Request, *, fragment: bool = False) -> HttpResponse:
    unread_only = request.GET.get("unread") == "1" or request.POST.get("unread") == "1"
    rows = Notification.objects.of(request.user)
    number = request.GET.get("page") or request.POST.get("page")
    page = Paginator(rows.unread() if unread_only else rows, 30).get_page(number)
    context = {"page": page, "unread_only": unread_only}
    if fragment:
        return render(request, "accounts/notification_list.html#notifications", context | {"bell_oob": True})
    return render(request, "accounts/notification_list.html", context)


@require_GET
def notification_list(request: Request) -> HttpResponse:
    return _notifications(request, fragment=bool(request.htmx))


@require_GET
def notification_open(request: Request, pk: int) -> HttpResponse:
    """Follow a notification to what it is about; opening it marks it read."""
    notification = get_object_or_404(Notification.objects.of(request.user), pk=pk)
    notification.mark_read()
    target = notification.url
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("accounts:notification-list")


@require_POST
def notification_read(request: Request, pk: int) -> HttpResponse:
    notification = get_object_or_404(Notification.objects.of(request.user), pk=pk)
    notification.mark_read()
    if request.htmx:
        return _notifications(request, fragment=True)
    return redirect(_safe_next(request, reverse("accounts:notification-list")))


@require_POST
def notification_read_all(request: Request) -> HttpResponse:
    n = Notification.mark_all_read(request.user)
    if request.htmx:
        return _notifications(request, fragment=True)
    messages.success(request, f"{n} notification{'s' if n != 1 else ''} marked read.")
    return redirect(_safe_next(request, reverse("accounts:notification-list")))
