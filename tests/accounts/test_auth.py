from __future__ import annotations

import re
from unittest import mock

from django.core import mail
from django.test import TestCase
from django.urls import reverse

from accounts import tasks
from accounts.models import User
from tests.factories import create_user


class SignupTests(TestCase):
    url = reverse("accounts:signup")

    def test_signing_up_creates_the_user_and_logs_them_in(self):
        response = self.client.post(
            self.url,
            {
                "username": "newbie",
                "email": "newbie@example.com",
                "display_name": "New Bie",
                "password1": "a-long-passphrase-42",
                "password2": "a-long-passphrase-42",
            },
        )

        self.assertRedirects(response, reverse("roadmap:roadmap-list"), fetch_redirect_response=False)
        user = User.objects.get(username="newbie")
        # The address waits for its confirmation link; until then it is not the account's address.
        assert (user.email, user.pending_email, user.name) == ("", "newbie@example.com", "New Bie")
        assert not user.email_verified
        assert self.client.get(reverse("assessments:dashboard")).status_code == 200

    def test_errors_name_the_field_and_keep_what_was_typed(self):
        response = self.client.post(
            self.url,
            {"username": "x", "email": "not-an-address", "password1": "short", "password2": "other"},
        )

        assert response.status_code == 200
        form = response.context["form"]
        assert "email" in form.errors and "password2" in form.errors
        self.assertContains(response, 'value="x"')
        assert not User.objects.filter(username="x").exists()

    def test_a_logged_in_user_goes_to_the_dashboard(self):
        self.client.force_login(create_user())
        self.assertRedirects(self.client.get(self.url), reverse("assessments:dashboard"))


class LoginLogoutTests(TestCase):
    def test_logging_in_goes_to_next_or_the_dashboard(self):
        create_user(username="ada", password="pw-for-ada-123")

        response = self.client.post(reverse("accounts:login"), {"username": "ada", "password": "pw-for-ada-123"})
        self.assertRedirects(response, reverse("assessments:dashboard"), fetch_redirect_response=False)

        self.client.logout()
        response = self.client.post(
            reverse("accounts:login") + "?next=/me/notes/",
            {"username": "ada", "password": "pw-for-ada-123", "next": "/me/notes/"},
        )
        self.assertRedirects(response, "/me/notes/", fetch_redirect_response=False)

    def test_a_wrong_password_says_so(self):
        create_user(username="ada")
        response = self.client.post(reverse("accounts:login"), {"username": "ada", "password": "nope"})
        self.assertContains(response, "Please enter a correct username and password")

    def test_logging_out_is_a_post(self):
        self.client.force_login(create_user())

        assert self.client.get(reverse("accounts:logout")).status_code == 405
        response = self.client.post(reverse("accounts:logout"))

        self.assertRedirects(response, reverse("roadmap:roadmap-list"), fetch_redirect_response=False)
        assert self.client.get(reverse("accounts:profile")).status_code == 302

    def test_the_nav_offers_the_right_links(self):
        response = self.client.get(reverse("roadmap:roadmap-list"))
        self.assertContains(response, reverse("accounts:login"))
        self.assertContains(response, reverse("accounts:signup"))
        self.assertNotContains(response, reverse("assessments:dashboard"))

        self.client.force_login(create_user())
        response = self.client.get(reverse("roadmap:roadmap-list"))
        self.assertContains(response, reverse("assessments:dashboard"))
        self.assertContains(response, reverse("accounts:profile"))
        self.assertContains(response, f'action="{reverse("accounts:logout")}"')

    def test_private_pages_send_anonymous_visitors_to_log_in(self):
        for name in ("accounts:profile", "accounts:password-change", "assessments:dashboard", "assessments:note-list"):
            response = self.client.get(reverse(name))
            assert response.status_code == 302, name
            assert response.url.startswith(reverse("accounts:login") + "?next="), name

    def test_an_htmx_request_without_a_session_sends_the_whole_page_to_log_in(self):
        response = self.client.get(
            reverse("assessments:dashboard"), headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/rm/"}
        )

        assert response.status_code == 200
        assert response["HX-Redirect"] == reverse("accounts:login") + "?next=/rm/"


class PasswordTests(TestCase):
    def test_changing_the_password(self):
        user = create_user(password="old-pass-123")
        self.client.force_login(user)

        response = self.client.post(
            reverse("accounts:password-change"),
            {"old_password": "old-pass-123", "new_password1": "fresh-pass-456!", "new_password2": "fresh-pass-456!"},
        )

        self.assertRedirects(response, reverse("accounts:password-change-done"))
        user.refresh_from_db()
        assert user.check_password("fresh-pass-456!")

    def test_resetting_the_password_by_email(self):
        user = create_user(email="ada@example.com")

        # The mail goes out from a task after the request (same timing whether the account exists).
        with (
            mock.patch.object(tasks.send_reset_mail, "delay", side_effect=tasks.send_reset_mail),
            self.captureOnCommitCallbacks(execute=True),
        ):
            response = self.client.post(reverse("accounts:password-reset"), {"email": "ada@example.com"})

        self.assertRedirects(response, reverse("accounts:password-reset-done"))
        assert len(mail.outbox) == 1
        assert mail.outbox[0].subject == "Reset your Layerwise password"
        link = re.search(r"https?://[^/]+(/accounts/password/reset/\S+/)", mail.outbox[0].body).group(1)
        form_page = self.client.get(link, follow=True)
        assert form_page.context["validlink"]
        response = self.client.post(
            form_page.redirect_chain[-1][0], {"new_password1": "brand-new-789!", "new_password2": "brand-new-789!"}
        )
        self.assertRedirects(response, reverse("accounts:password-reset-complete"))
        user.refresh_from_db()
        assert user.check_password("brand-new-789!")

    def test_an_unknown_email_sends_nothing_but_looks_the_same(self):
        response = self.client.post(reverse("accounts:password-reset"), {"email": "nobody@example.com"})

        self.assertRedirects(response, reverse("accounts:password-reset-done"))
        assert mail.outbox == []
