from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, UserCreationForm
from django.db import transaction
from django.http import HttpRequest
from django.template import loader

from accounts.models import Membership, Team, User
from accounts.tasks import send_reset_mail
from core.ratelimit import RateLimit, client_ip

# Password guessing, counted so that nobody else can lock an account's owner out: failures per
# username *and* address together (one account guessed from one network), and per address (many
# accounts, or one, tried from one network). Guesses from elsewhere never count against the owner's
# own address. Limits in settings.RATE_LIMITS.
LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS = RateLimit("login-username", "10/15m")
LOGIN_FAILURES_PER_ADDRESS = RateLimit("login-address", "30/15m")
SIGNUPS_PER_ADDRESS = RateLimit("signup-address", "10/1h")
# Password reset mails: per address typed in (one inbox flooded) and per client address.
RESETS_PER_EMAIL = RateLimit("reset-email", "3/1h")
RESETS_PER_ADDRESS = RateLimit("reset-address", "10/1h")
# Confirmation mails (an email change, "send the link again"), per account.
EMAIL_LINKS_PER_ACCOUNT = RateLimit("email-link", "5/1h")


class LoginForm(AuthenticationForm):
    """Django's log-in form, which stops checking passwords for a username from an address, or for
    an address, after too many recent failures, and says for how long."""

    retry_after = 0

    def clean(self) -> dict[str, Any]:
        username = (self.cleaned_data.get("username") or "").strip().lower()
        address = client_ip(self.request) if self.request else "unknown"
        pair = f"{username}|{address}"
        for limit, ident in ((LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS, pair), (LOGIN_FAILURES_PER_ADDRESS, address)):
            verdict = limit.peek(ident)
            if verdict.blocked:
                self.retry_after = verdict.retry_after
                raise forms.ValidationError(
                    "Too many failed log-in attempts from your network. "
                    f"Try again {verdict.retry_after_text}, or reset your password.",
                    code="rate_limited",
                )
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            if username and self.cleaned_data.get("password"):
                LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS.hit(pair)
                LOGIN_FAILURES_PER_ADDRESS.hit(address)
            raise
        # The owner got in: their count starts again (the address's does not, or logging into
        # one's own account would reset a guesser's budget).
        LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS.reset(pair)
        return cleaned


class AdminLoginForm(LoginForm, AdminAuthenticationForm):
    """The admin's log-in behind the same limits (accounts/admin.py sets it on the admin site)."""


class ResetForm(PasswordResetForm):
    """Django's reset form with limits per typed address and per client. The page answers the same
    whether or not an account has the address and whether or not a limit was reached; the mail goes
    out from a task, so the answer takes the same time too."""

    def save(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        email = self.cleaned_data["email"].strip().lower()
        request: HttpRequest | None = kwargs.get("request")
        address = client_ip(request) if request else "unknown"
        if RESETS_PER_EMAIL.hit(email).blocked | RESETS_PER_ADDRESS.hit(address).blocked:
            return
        super().save(*args, **kwargs)

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        body = loader.render_to_string(email_template_name, context)
        transaction.on_commit(lambda: send_reset_mail.delay(subject, body, to_email), robust=True)


class SignupForm(UserCreationForm):
    """Sign-up. The address is not checked against other accounts here: the page must not tell
    whether an account has it. It waits unconfirmed, and the mail decides (a link, or a notice to
    the address's owner when another account has confirmed it)."""

    email = forms.EmailField(
        required=True,
        help_text="We mail it a link to confirm it. For password resets and invitations; never shown to others.",
    )

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email", "display_name")
        help_texts = {"display_name": "Optional: how your name appears to your team."}

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=False)
        user.email, user.pending_email = "", self.cleaned_data["email"].strip()
        if commit:
            user.save()
        return user


class ProfileForm(forms.ModelForm):
    """Name and email. A new email only waits for its link (User.request_email); the one in use stays
    until it is confirmed, and the answer is the same whether or not another account has it."""

    email = forms.EmailField(
        required=False, max_length=254, help_text="A new address takes effect once you follow the link we mail to it."
    )

    class Meta:
        model = User
        fields = ("display_name",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].initial = self.instance.pending_email or self.instance.email


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text='What the token is for, for example "laptop script" or "CI".',
    )


class DeleteAccountForm(forms.Form):
    password = forms.CharField(widget=forms.PasswordInput, help_text="Your current password, to confirm.")

    def __init__(self, user: User, *args: object, **kwargs: object) -> None:
        self.user = user
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password. Nothing was deleted.")
        return password

    def clean(self) -> dict[str, object]:
        # A team always keeps a lead; deleting the only one would leave its members with nobody to manage it.
        stranded = ", ".join(team.name for team in self.user.teams_only_led_by_me())
        if stranded:
            raise forms.ValidationError(
                f"You are the only lead of {stranded}. Make another member lead (or leave the team) first. "
                "Nothing was deleted."
            )
        return self.cleaned_data


class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ("name", "description", "visibility")
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "visibility": forms.RadioSelect,
        }
        help_texts = {
            "name": "Its address is made from the name when the team is created and does not change afterwards.",
            "description": "Optional: what the team works on.",
            "visibility": "Leads and reviewers always see every member's progress; this decides what members see.",
        }


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)


class InviteForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.MEMBER)
    email = forms.EmailField(
        required=False,
        help_text="Optional. An account that has confirmed this email sees the invitation on its teams page; "
        "mail about it goes to the address when this site sends mail.",
    )
