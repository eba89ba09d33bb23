"""Accounts that cannot be hijacked (issue 13): a new password revokes the API tokens, the admin's
log-in counts failures like the site's, and password reset is rate-limited with one answer for
every address. Email verification and the takeover attempts: test_email_verification.py."""

from __future__ import annotations

from unittest import mock

from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.test import TestCase, override_settings
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts import tasks
from accounts.models import ApiToken
from tests.factories import create_token, create_user


class PasswordRevokesTokensTests(TestCase):
    def setUp(self) -> None:
        self.user = create_user(username="ada", password="old-pw-for-ada-1")
        self.token, self.raw = create_token(user=self.user)

    def api_status(self) -> int:
        return self.client.get("/api/v1/me", headers={"Authorization": f"Bearer {self.raw}"}).status_code

    def test_changing_the_password_revokes_every_token_and_the_form_says_so(self):
        assert self.api_status() == 200
        self.client.force_login(self.user)
        page = self.client.get(reverse("accounts:password-change"))
        self.assertContains(page, "revokes every API token")
        response = self.client.post(
            reverse("accounts:password-change"),
            {
                "old_password": "old-pw-for-ada-1",
                "new_password1": "n3w-pw-for-ada!",
                "new_password2": "n3w-pw-for-ada!",
            },
        )
        assert response.status_code == 302
        self.client.logout()
        assert self.api_status() == 401
        assert not ApiToken.objects.active().filter(user=self.user).exists()

    def test_a_password_reset_revokes_them_too(self):
        uid = urlsafe_base64_encode(force_bytes(self.user.pk))
        token = default_token_generator.make_token(self.user)
        url = reverse("accounts:password-reset-confirm", args=[uid, token])
        form_url = self.client.get(url)["Location"]
        self.client.post(form_url, {"new_password1": "n3w-pw-for-ada!", "new_password2": "n3w-pw-for-ada!"})
        assert self.api_status() == 401

    def test_saving_the_profile_leaves_the_tokens_alone(self):
        self.user.display_name = "Ada"
        self.user.save()
        assert self.api_status() == 200


@override_settings(RATE_LIMITS={"login-username": "3/15m", "login-address": "5/15m"})
class AdminLoginRateLimitTests(TestCase):
    def test_the_admin_log_in_is_behind_the_same_limits(self):
        create_user(username="root", password="right-pw-for-root", is_staff=True, is_superuser=True)
        url = reverse("admin:login")
        for _ in range(3):
            self.client.post(url, {"username": "root", "password": "wrong"}, REMOTE_ADDR="198.51.100.1")
        response = self.client.post(
            url, {"username": "root", "password": "right-pw-for-root"}, REMOTE_ADDR="198.51.100.1"
        )
        self.assertContains(response, "Too many failed log-in attempts")
        assert "_auth_user_id" not in self.client.session


@override_settings(RATE_LIMITS={"reset-email": "2/1h", "reset-address": "4/1h"})
class PasswordResetTests(TestCase):
    def setUp(self) -> None:
        create_user(username="ada", email="ada@example.com")

    def reset(self, email: str, address: str = "198.51.100.1"):
        with (
            mock.patch.object(tasks.send_reset_mail, "delay", side_effect=tasks.send_reset_mail),
            self.captureOnCommitCallbacks(execute=True),
        ):
            return self.client.post(reverse("accounts:password-reset"), {"email": email}, REMOTE_ADDR=address)

    def test_the_answer_is_the_same_whether_or_not_the_account_exists(self):
        known, unknown = self.reset("ada@example.com"), self.reset("nobody@example.com")
        assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
        assert [m.to for m in mail.outbox] == [["ada@example.com"]]

    def test_too_many_resets_for_one_address_send_nothing_more_and_answer_the_same(self):
        answers = {self.reset("ada@example.com", address=f"203.0.113.{n}")["Location"] for n in range(4)}
        assert len(answers) == 1 and len(mail.outbox) == 2

    def test_too_many_resets_from_one_client_send_nothing_more(self):
        for n in range(4):
            self.reset(f"someone{n}@example.com")
        self.reset("ada@example.com")
        assert mail.outbox == []
