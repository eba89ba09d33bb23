from __future__ import annotations

import hashlib
from datetime import timedelta
from unittest import mock

from django.core import mail
from django.test import TestCase, override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import Notification, TeamError, TeamInvite, User
from accounts.tasks import email_invite
from tests.factories import create_invite, create_team, create_user


def url(name: str, *args: object) -> str:
    return reverse(f"teams:{name}", args=args)


class InviteCreateTests(TestCase):
    def setUp(self):
        self.lead = create_user()
        self.team = create_team(members={self.lead: "lead"})
        self.client.force_login(self.lead)

    def test_the_link_is_shown_once_and_only_its_hash_is_stored(self):
        response = self.client.post(url("invite-list", self.team.slug), {"role": "reviewer", "email": ""})

        link = response.context["new_link"]
        token = link.rstrip("/").rsplit("/", 1)[1]
        invite = TeamInvite.objects.get()
        assert invite.digest == hashlib.sha256(token.encode()).hexdigest()
        assert token not in str(TeamInvite.objects.values().get())
        assert invite.role == "reviewer" and invite.created_by == self.lead
        self.assertContains(response, link)
        self.assertNotContains(self.client.get(url("invite-list", self.team.slug)), token)

    def test_the_htmx_answer_is_the_invitations_block(self):
        response = self.client.post(
            url("invite-list", self.team.slug), {"role": "member"}, headers={"HX-Request": "true"}
        )

        self.assertContains(response, 'id="invites"')
        self.assertNotContains(response, "<html")

    def test_an_email_of_an_account_addresses_the_invite_and_notifies_them(self):
        ada = create_user(email="ada@example.com")

        response = self.client.post(url("invite-list", self.team.slug), {"role": "member", "email": "ADA@example.com"})

        invite = TeamInvite.objects.get()
        assert invite.invitee == ada
        note = Notification.objects.of(ada).get()
        assert note.kind == Notification.Kind.TEAM_INVITE and self.team.name in note.title
        assert note.url == url("team-list")  # never the link: notifications are stored in plain text
        # The lead reads what they would read for an address no account has: never who it is.
        self.assertContains(response, "If an account here has confirmed ADA@example.com")
        self.assertNotContains(response, ada.username)

    def test_without_mail_an_unknown_email_gets_nothing_and_the_lead_is_told(self):
        with self.captureOnCommitCallbacks(execute=True) as callbacks:
            response = self.client.post(
                url("invite-list", self.team.slug), {"role": "member", "email": "new@example.com"}
            )

        assert callbacks == [] and mail.outbox == []
        self.assertContains(response, "pass the link on yourself")

    @override_settings(EMAIL_CONFIGURED=True, SITE_URL="https://layerwise.example")
    def test_with_mail_an_unknown_email_gets_the_link_once(self):
        with mock.patch("accounts.models.current_app") as app, self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(
                url("invite-list", self.team.slug), {"role": "member", "email": "new@example.com"}
            )
        (name,), kwargs = app.send_task.call_args
        invite_id, link = kwargs["args"]
        assert name == email_invite.name
        email_invite(invite_id, link)  # what the worker runs
        email_invite(invite_id, link)  # delivered twice

        assert len(mail.outbox) == 1
        assert mail.outbox[0].to == ["new@example.com"]
        assert link.startswith("https://layerwise.example/teams/") and link in mail.outbox[0].body
        assert link.endswith(response.context["new_link"].split("testserver", 1)[1])

    def test_inviting_someone_already_in_the_team_answers_as_for_anyone_and_notifies_nobody(self):
        self.team.add_member(create_user(username="secret-name", email="ada@example.com"), "member")

        member = self.client.post(url("invite-list", self.team.slug), {"role": "lead", "email": "ada@example.com"})
        stranger = self.client.post(url("invite-list", self.team.slug), {"role": "lead", "email": "bob@example.com"})

        assert member.status_code == stranger.status_code == 200
        self.assertContains(member, "If an account here has confirmed ada@example.com")
        self.assertNotContains(member, "secret-name")
        assert TeamInvite.objects.count() == 2
        assert not Notification.objects.exists()

    def test_a_bad_email_is_named(self):
        response = self.client.post(url("invite-list", self.team.slug), {"role": "member", "email": "nope"})

        assert "email" in response.context["form"].errors
        assert not TeamInvite.objects.exists()


class InviteAcceptTests(TestCase):
    def setUp(self):
        self.lead = create_user()
        self.team = create_team(members={self.lead: "lead"})
        self.invite, self.token = create_invite(team=self.team, role="reviewer", by=self.lead)
        self.link = self.invite.get_link(self.token)

    def test_a_logged_in_user_sees_the_team_and_joins_with_a_post(self):
        ada = create_user()
        self.client.force_login(ada)

        page = self.client.get(self.link)
        assert self.team.role_of(ada) is None  # looking does not use it up
        self.assertContains(page, f"Join {self.team.name}")
        response = self.client.post(self.link)

        self.assertRedirects(response, self.team.get_absolute_url(), fetch_redirect_response=False)
        assert self.team.role_of(ada) == "reviewer"
        self.invite.refresh_from_db()
        assert self.invite.accepted_by == ada and self.invite.state == "accepted"

    def test_it_is_single_use(self):
        self.invite.accept(create_user())
        bo = create_user()
        self.client.force_login(bo)

        response = self.client.post(self.link, follow=True)

        assert self.team.role_of(bo) is None
        self.assertContains(response, "used already", status_code=410)

    def test_it_expires(self):
        TeamInvite.objects.filter(pk=self.invite.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        bo = create_user()
        self.client.force_login(bo)

        response = self.client.get(self.link)
        self.client.post(self.link)

        self.assertContains(response, "expired", status_code=410)
        assert self.team.role_of(bo) is None

    def test_a_revoked_invite_no_longer_works(self):
        self.client.force_login(self.lead)
        self.client.post(url("invite-revoke", self.team.slug, self.invite.pk))
        bo = create_user()
        self.client.force_login(bo)

        response = self.client.post(self.link, follow=True)

        assert self.team.role_of(bo) is None
        self.assertContains(response, "revoked", status_code=410)

    def test_a_token_under_another_team_or_a_wrong_token_is_a_404(self):
        other = create_team(members={create_user(): "lead"})
        self.client.force_login(create_user())

        assert self.client.get(url("invite-accept", other.slug, self.token)).status_code == 404
        assert self.client.get(url("invite-accept", self.team.slug, self.token + "x")).status_code == 404
        assert self.client.get(url("invite-accept", self.team.slug, "not-a-token")).status_code == 404

    def test_a_member_already_in_the_team_does_not_use_it_up(self):
        self.client.force_login(self.lead)

        self.client.post(self.link)

        assert self.team.role_of(self.lead) == "lead"
        assert TeamInvite.objects.pending().filter(pk=self.invite.pk).exists()
        with self.assertRaises(TeamError):
            self.invite.accept(self.lead)

    def test_a_logged_out_visitor_logs_in_and_comes_back(self):
        create_user(username="ada", password="pw-for-ada-123")

        response = self.client.get(self.link)
        login_url = response.url
        assert login_url.startswith(reverse("accounts:login"))
        response = self.client.post(login_url, {"username": "ada", "password": "pw-for-ada-123", "next": self.link})

        self.assertRedirects(response, self.link, fetch_redirect_response=False)
        self.client.post(self.link)
        assert self.team.role_of(User.objects.get(username="ada")) == "reviewer"

    def test_a_new_visitor_signs_up_and_comes_back(self):
        login_page = self.client.get(self.client.get(self.link).url)
        signup_url = reverse("accounts:signup") + "?next=" + self.link
        self.assertContains(login_page, signup_url)
        page = self.client.get(signup_url)
        self.assertContains(page, f'name="next" value="{self.link}"')

        response = self.client.post(
            signup_url,
            {
                "username": "newbie",
                "email": "newbie@example.com",
                "password1": "a-long-passphrase-42",
                "password2": "a-long-passphrase-42",
                "next": self.link,
            },
        )

        self.assertRedirects(response, self.link, fetch_redirect_response=False)
        self.client.post(self.link)
        assert self.team.role_of(User.objects.get(username="newbie")) == "reviewer"

    def test_signup_ignores_a_next_off_the_site(self):
        response = self.client.post(
            reverse("accounts:signup"),
            {
                "username": "newbie",
                "email": "newbie@example.com",
                "password1": "a-long-passphrase-42",
                "password2": "a-long-passphrase-42",
                "next": "https://evil.example/",
            },
        )

        self.assertRedirects(response, reverse("roadmap:roadmap-list"), fetch_redirect_response=False)


class AddressedInviteTests(TestCase):
    def setUp(self):
        self.lead = create_user()
        self.team = create_team(members={self.lead: "lead"})
        self.ada = create_user(email="ada@example.com")
        self.invite, _ = create_invite(team=self.team, by=self.lead, email="ada@example.com")

    def test_the_invitee_sees_it_on_their_teams_page_and_joins(self):
        self.client.force_login(self.ada)
        self.assertContains(self.client.get(url("team-list")), url("invitation-accept", self.invite.pk))

        self.client.post(url("invitation-accept", self.invite.pk))

        assert self.team.role_of(self.ada) == "member"

    def test_the_invitee_declines_and_it_is_closed(self):
        self.client.force_login(self.ada)

        self.client.post(url("invitation-decline", self.invite.pk))

        self.invite.refresh_from_db()
        assert self.invite.state == "declined" and self.team.role_of(self.ada) is None
        self.assertNotContains(self.client.get(url("team-list")), url("invitation-accept", self.invite.pk))

    def test_someone_else_cannot_use_it_by_its_number(self):
        bo = create_user()
        self.client.force_login(bo)

        assert self.client.post(url("invitation-accept", self.invite.pk)).status_code == 404
        assert self.client.post(url("invitation-decline", self.invite.pk)).status_code == 404
        assert self.team.role_of(bo) is None


class InviteListTests(TestCase):
    def test_pending_and_past_invitations_are_listed_and_revocable(self):
        lead = create_user()
        team = create_team(members={lead: "lead"})
        pending, _ = create_invite(team=team, by=lead, email="x@example.com")
        used, _ = create_invite(team=team, by=lead)
        used.accept(create_user(display_name="Bo Used"))
        self.client.force_login(lead)

        response = self.client.get(url("invite-list", team.slug))

        assert list(response.context["pending"]) == [pending]
        assert list(response.context["closed"]) == [used]
        self.assertContains(response, url("invite-revoke", team.slug, pending.pk))
        self.assertContains(response, "Bo Used")

    def test_revoking_an_invite_of_another_team_is_a_404(self):
        lead = create_user()
        team = create_team(members={lead: "lead"})
        foreign, _ = create_invite()
        self.client.force_login(lead)

        assert self.client.post(url("invite-revoke", team.slug, foreign.pk)).status_code == 404
        assert foreign.is_pending
