"""Password guessing and sign-up floods meet a limit that says how long to wait."""

from __future__ import annotations

from unittest import mock

from django.test import TestCase, override_settings
from django.urls import reverse

from accounts.models import User
from tests.factories import create_user

LOGIN = reverse("accounts:login")


@override_settings(RATE_LIMITS={"login-username": "3/15m", "login-address": "5/15m"})
class LoginRateLimitTests(TestCase):
    def setUp(self) -> None:
        self.ada = create_user(username="ada", password="right-pw-for-ada")

    def log_in(self, username: str = "ada", password: str = "wrong", address: str = "198.51.100.1"):
        return self.client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)

    def test_after_too_many_failures_even_the_right_password_is_refused_with_the_wait(self):
        for _ in range(3):
            assert self.log_in().status_code == 200

        response = self.log_in(password="right-pw-for-ada")

        assert response.status_code == 429 and 0 < int(response["Retry-After"]) <= 900
        self.assertContains(response, "Too many failed log-in attempts", status_code=429)
        self.assertContains(response, "Try again in", status_code=429)
        self.assertContains(response, 'value="ada"', status_code=429)  # what was typed is kept
        assert "_auth_user_id" not in self.client.session

    def test_strangers_guessing_cannot_lock_the_owner_out(self):
        """Issue 13: ten failures from anyone used to lock the real user out. Failures count per
        username and address together, so guesses from elsewhere leave the owner's address alone."""
        for n in range(10):
            self.log_in(address=f"203.0.113.{n % 2}")
        assert self.log_in(address="203.0.113.0").status_code == 429  # the guesser is stopped
        response = self.log_in(password="right-pw-for-ada", address="192.0.2.77")
        assert response.status_code == 302 and self.client.session["_auth_user_id"] == str(self.ada.pk)

    def test_one_address_trying_many_accounts_is_stopped_but_others_are_not(self):
        for n in range(5):
            self.log_in(username=f"victim{n}")
        assert self.log_in(username="victim9").status_code == 429
        response = self.log_in(password="right-pw-for-ada", address="192.0.2.8")
        assert response.status_code == 302 and self.client.session["_auth_user_id"] == str(self.ada.pk)

    def test_logging_in_resets_the_accounts_count(self):
        for _ in range(2):
            self.log_in()
        assert self.log_in(password="right-pw-for-ada").status_code == 302
        self.client.logout()
        for _ in range(2):
            assert self.log_in().status_code == 200
        assert self.log_in(password="right-pw-for-ada").status_code == 302

    def test_the_block_ends_with_its_window(self):
        with mock.patch("core.ratelimit.time.time", return_value=2_000_000_000.0):
            for _ in range(3):
                self.log_in()
            assert self.log_in(password="right-pw-for-ada").status_code == 429
        with mock.patch("core.ratelimit.time.time", return_value=2_000_000_000.0 + 900):
            assert self.log_in(password="right-pw-for-ada").status_code == 302

    def test_empty_forms_count_nothing(self):
        for _ in range(5):
            self.client.post(LOGIN, {"username": "ada", "password": ""})
        assert self.log_in(password="right-pw-for-ada").status_code == 302


@override_settings(RATE_LIMITS={"signup-address": "2/1h"})
class SignupRateLimitTests(TestCase):
    def sign_up(self, n: int, address: str = "198.51.100.1"):
        data = {
            "username": f"new{n}",
            "email": f"new{n}@example.com",
            "password1": "a-long-passphrase-42",
            "password2": "a-long-passphrase-42",
        }
        response = self.client.post(reverse("accounts:signup"), data, REMOTE_ADDR=address)
        self.client.logout()
        return response

    def test_too_many_signups_from_one_address_are_refused_and_create_nothing(self):
        assert [self.sign_up(n).status_code for n in range(2)] == [302, 302]

        response = self.sign_up(3)

        assert response.status_code == 429
        self.assertContains(response, "Too many sign-ups from your network. Try again in", status_code=429)
        self.assertContains(response, 'value="new3@example.com"', status_code=429)
        assert not User.objects.filter(username="new3").exists()
        assert self.sign_up(4, address="192.0.2.1").status_code == 302
