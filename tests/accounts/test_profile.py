from __future__ import annotations

import io

from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import TestCase
from django.urls import reverse

from accounts.models import ApiToken
from tests.factories import create_team, create_user


class ProfileTests(TestCase):
    def setUp(self):
        self.user = create_user(username="ada", email="ada@example.com")
        self.client.force_login(self.user)

    def test_it_shows_the_account_teams_tokens_and_data_links(self):
        create_team(name="Infra", members={self.user: "lead"})
        ApiToken.issue(self.user, "laptop")

        response = self.client.get(reverse("accounts:profile"))

        self.assertContains(response, "ada@example.com")
        self.assertContains(response, "Infra")
        self.assertContains(response, "laptop")
        self.assertContains(response, reverse("assessments:data-export"))
        self.assertContains(response, reverse("assessments:account-delete"))

    def test_editing_the_profile(self):
        response = self.client.post(
            reverse("accounts:profile-update"), {"display_name": "Ada L.", "email": "ada@new.example"}
        )

        self.assertRedirects(response, reverse("accounts:profile"))
        self.user.refresh_from_db()
        # The new address waits for its link; the name changes at once.
        assert (self.user.display_name, self.user.pending_email) == ("Ada L.", "ada@new.example")
        assert self.user.email != "ada@new.example"

    def test_a_new_token_is_shown_once_and_stored_hashed(self):
        response = self.client.post(reverse("accounts:token-create"), {"name": "CI"}, headers={"HX-Request": "true"})

        self.assertContains(response, 'id="api-tokens"')
        self.assertNotContains(response, "<html")
        raw = response.context["new_token"]
        assert raw.startswith("lw_")
        token = ApiToken.objects.get()
        assert token.name == "CI" and raw not in (token.digest, token.hint)
        assert ApiToken.authenticate(raw) == self.user
        self.assertNotContains(self.client.get(reverse("accounts:profile")), raw)

    def test_a_token_needs_a_name(self):
        response = self.client.post(reverse("accounts:token-create"), {"name": ""}, headers={"HX-Request": "true"})

        self.assertContains(response, "errorlist")
        assert not ApiToken.objects.exists()

    def test_revoking_my_token(self):
        token, raw = ApiToken.issue(self.user, "old")

        response = self.client.post(reverse("accounts:token-revoke", args=[token.pk]))

        self.assertRedirects(response, reverse("accounts:profile"))
        assert ApiToken.authenticate(raw) is None

    def test_another_users_token_is_404(self):
        token, raw = ApiToken.issue(create_user(), "theirs")

        assert self.client.post(reverse("accounts:token-revoke", args=[token.pk])).status_code == 404
        assert ApiToken.authenticate(raw) is not None
        self.assertNotContains(self.client.get(reverse("accounts:profile")), "theirs")


class IssueTokenCommandTests(TestCase):
    def test_it_prints_a_working_token(self):
        user = create_user(username="ada")
        out, err = io.StringIO(), io.StringIO()

        call_command("issue_token", "ada", "--name", "script", stdout=out, stderr=err)

        raw = out.getvalue().strip()
        assert ApiToken.authenticate(raw) == user
        assert ApiToken.objects.get().name == "script"
        assert "not shown again" in err.getvalue()

    def test_an_unknown_user_is_an_error(self):
        with self.assertRaisesMessage(CommandError, "No user named 'nobody'"):
            call_command("issue_token", "nobody", stdout=io.StringIO(), stderr=io.StringIO())
