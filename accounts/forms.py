from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm

from accounts.models import Membership, Team, User
from core.ratelimit import RateLimit, client_ip

# Password guessing: failures per username (one account attacked from many addresses) and per
# address (many accounts tried from one). Limits in settings.RATE_LIMITS.
LOGIN_FAILURES_PER_USERNAME = RateLimit("login-username", "10/15m")
LOGIN_FAILURES_PER_ADDRESS = RateLimit("login-address", "30/15m")
SIGNUPS_PER_ADDRESS = RateLimit("signup-address", "10/1h")


class LoginForm(AuthenticationForm):
    """Django's log-in form, which stops checking passwords for a username or an address after
    too many recent failures, and says for how long."""

    retry_after = 0

    def clean(self) -> dict[str, Any]:
        username = (self.cleaned_data.get("username") or "").strip().lower()
        address = client_ip(self.request) if self.request else "unknown"
        for limit, ident in ((LOGIN_FAILURES_PER_USERNAME, username), (LOGIN_FAILURES_PER_ADDRESS, address)):
            verdict = limit.peek(ident)
            if verdict.blocked:
                self.retry_after = verdict.retry_after
                raise forms.ValidationError(
                    "Too many failed log-in attempts for this account or from your network. "
                    f"Try again {verdict.retry_after_text}, or reset your password.",
                    code="rate_limited",
                )
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            if username and self.cleaned_data.get("password"):
                LOGIN_FAILURES_PER_USERNAME.hit(username)
                LOGIN_FAILURES_PER_ADDRESS.hit(address)
            raise
        # The owner got in: their account's count starts again (the address's does not, or
        # logging into one's own account would reset a guesser's budget).
        LOGIN_FAILURES_PER_USERNAME.reset(username)
        return cleaned


class SignupForm(UserCreationForm):
    email = forms.EmailField(required=True, help_text="For password resets; never shown to others.")

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email", "display_name")
        help_texts = {"display_name": "Optional: how your name appears to your team."}

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email exists already. Log in, or reset its password.")
        return email


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ("display_name", "email")


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
        help_text="Optional. Someone with an account under this email is notified here; "
        "otherwise the link is emailed when this site can send mail.",
    )
