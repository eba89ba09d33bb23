"""Email verification (issue 13): an address takes effect only once its link is followed, invites
reach confirmed addresses only, and no answer tells who owns an address. Includes the takeover
attempts: signing up with, or changing to, someone else's address, and using a link elsewhere."""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from unittest import mock

from django.core import mail
from django.db import IntegrityError, transaction
from django.test import TestCase, override_settings
from django.urls import reverse

from accounts import tasks
from accounts.models import (
    EMAIL_INVITE_TASK,
    EMAIL_NOTIFICATION_TASK,
    EMAIL_VERIFICATION_TASK,
    Membership,
    TeamInvite,
    User,
)
from tests.factories import create_team, create_user

LINK = re.compile(r"https?://[^/\s]+(/accounts/email/confirm/\S+/)")
NEW_INVITE = re.compile(r'<div class="message message-success new-invite".*?</div>', re.S)
WORKER = {
    EMAIL_VERIFICATION_TASK: tasks.email_verification,
    EMAIL_INVITE_TASK: tasks.email_invite,
    EMAIL_NOTIFICATION_TASK: tasks.email_notification,
}


class MailTestCase(TestCase):
    @contextmanager
    def worker(self):
        """Run the request's mail tasks after its commit, as the worker would."""
        with mock.patch("accounts.models.current_app") as app, self.captureOnCommitCallbacks(execute=True):
            app.send_task.side_effect = lambda name, args: WORKER[name](*args)
            yield

    def signup(self, username: str, email: str, **extra: object):
        data = {"username": username, "email": email, "password1": "a-long-passphrase-42"}
        data["password2"] = data["password1"]
        with self.worker():
            return self.client.post(reverse("accounts:signup"), data, **extra)

    def change_email(self, email: str, display_name: str = ""):
        with self.worker():
            return self.client.post(
                reverse("accounts:profile-update"), {"display_name": display_name, "email": email}, follow=True
            )

    def link_in(self, message) -> str:
        match = LINK.search(message.body)
        assert match, message.body
        return match.group(1)


class SignupVerificationTests(MailTestCase):
    def test_signing_up_mails_a_link_that_confirms_the_address(self):
        self.signup("newbie", "Newbie@example.com")

        user = User.objects.get(username="newbie")
        assert (user.email, user.pending_email, user.email_verified) == ("", "Newbie@example.com", False)
        [message] = mail.outbox
        assert message.to == ["Newbie@example.com"] and "newbie" in message.body
        link = self.link_in(message)

        page = self.client.get(link)  # a preview or prefetch changes nothing
        self.assertContains(page, "Confirm Newbie@example.com")
        user.refresh_from_db()
        assert not user.email_verified

        self.assertRedirects(self.client.post(link), reverse("accounts:profile"))
        user.refresh_from_db()
        assert (user.email, user.pending_email, user.email_verified) == ("Newbie@example.com", "", True)

    def test_a_link_works_once(self):
        self.signup("newbie", "newbie@example.com")
        link = self.link_in(mail.outbox[0])
        self.client.post(link)

        again = self.client.post(link)

        assert again.status_code == 400
        self.assertContains(again, "used already", status_code=400)

    def test_an_expired_link_gets_a_page_saying_so_and_changes_nothing(self):
        self.signup("newbie", "newbie@example.com")
        link = self.link_in(mail.outbox[0])
        later = time.time() + (User.EMAIL_LINK_DAYS + 1) * 86400

        with mock.patch("django.core.signing.time.time", return_value=later):
            response = self.client.post(link)

        self.assertContains(response, "This link has expired", status_code=400)
        assert not User.objects.get(username="newbie").email_verified

    def test_a_tampered_or_truncated_link_is_refused(self):
        self.signup("newbie", "newbie@example.com")
        link = self.link_in(mail.outbox[0])
        for bad in (link[:-8] + "/", link.replace("/confirm/", "/confirm/x"), "/accounts/email/confirm/%00/"):
            response = self.client.post(bad)
            self.assertContains(response, "not valid", status_code=400)
        assert not User.objects.get(username="newbie").email_verified

    def test_a_link_asks_a_logged_out_visitor_to_log_in(self):
        self.signup("newbie", "newbie@example.com")
        link = self.link_in(mail.outbox[0])
        self.client.logout()

        response = self.client.post(link)

        assert response.status_code == 302 and reverse("accounts:login") in response["Location"]
        assert not User.objects.get(username="newbie").email_verified

    @override_settings(RATE_LIMITS={"email-link": "2/1h"})
    def test_sending_the_link_again_is_rate_limited(self):
        self.signup("newbie", "newbie@example.com")
        for _ in range(3):
            with self.worker():
                response = self.client.post(reverse("accounts:email-resend"), follow=True)

        assert len(mail.outbox) == 1 + 2
        self.assertContains(response, "Too many confirmation mails")
        # Only the newest link... all three are for the same state, and any one confirms once.
        self.client.post(self.link_in(mail.outbox[-1]))
        assert User.objects.get(username="newbie").email_verified

    def test_the_profile_says_unverified_then_pending_change(self):
        self.signup("newbie", "newbie@example.com")
        page = self.client.get(reverse("accounts:profile"))
        self.assertContains(page, "unverified")
        self.assertContains(page, "Waiting for confirmation: <strong>newbie@example.com</strong>")

        self.client.post(self.link_in(mail.outbox[0]))
        self.change_email("newbie@new.example")

        page = self.client.get(reverse("accounts:profile"))
        self.assertContains(page, "confirmed")
        self.assertContains(page, "Pending change to <strong>newbie@new.example</strong>")
        self.assertContains(page, "Until then newbie@example.com stays in use")


class EmailChangeTests(MailTestCase):
    def setUp(self):
        self.ada = create_user(username="ada", email="ada@example.com")
        self.client.force_login(self.ada)

    def test_a_new_address_takes_effect_only_once_confirmed(self):
        self.change_email("ada@new.example", display_name="Ada")

        self.ada.refresh_from_db()
        assert (self.ada.email, self.ada.pending_email, self.ada.display_name) == (
            "ada@example.com",
            "ada@new.example",
            "Ada",
        )
        [message] = mail.outbox
        assert message.to == ["ada@new.example"]

        self.client.post(self.link_in(message))

        self.ada.refresh_from_db()
        assert (self.ada.email, self.ada.pending_email, self.ada.email_verified) == ("ada@new.example", "", True)

    def test_a_link_stops_working_once_the_address_changes_again(self):
        self.change_email("first@new.example")
        self.change_email("second@new.example")
        first, second = (self.link_in(m) for m in mail.outbox)

        self.assertContains(self.client.post(first), "address changed", status_code=400)
        self.ada.refresh_from_db()
        assert self.ada.email == "ada@example.com"

        self.client.post(second)
        self.ada.refresh_from_db()
        assert self.ada.email == "second@new.example"

    def test_cancelling_a_change_keeps_the_address_and_kills_its_link(self):
        self.change_email("ada@new.example")
        link = self.link_in(mail.outbox[0])

        self.client.post(reverse("accounts:email-cancel"))

        self.assertContains(self.client.post(link), "used already", status_code=400)
        self.ada.refresh_from_db()
        assert (self.ada.email, self.ada.pending_email) == ("ada@example.com", "")

    def test_saving_the_profile_again_sends_no_second_mail(self):
        self.change_email("ada@new.example")
        self.change_email("ada@new.example", display_name="Ada")
        self.change_email("ada@example.com")  # back to the one in use: the change is dropped

        assert len(mail.outbox) == 1
        self.ada.refresh_from_db()
        assert self.ada.pending_email == ""

    def test_an_empty_address_keeps_the_one_in_use(self):
        response = self.change_email("", display_name="Ada L.")

        self.assertContains(response, "Profile saved.")
        self.ada.refresh_from_db()
        assert (self.ada.display_name, self.ada.email, self.ada.pending_email) == ("Ada L.", "ada@example.com", "")
        assert mail.outbox == []

    def test_a_bad_address_is_named_and_the_form_kept(self):
        response = self.client.post(reverse("accounts:profile-update"), {"display_name": "Ada L.", "email": "nope"})

        assert "email" in response.context["form"].errors
        self.assertContains(response, 'value="Ada L."')
        assert mail.outbox == []


class TakeoverTests(MailTestCase):
    """Mallory wants Victor's invitations and password resets."""

    def setUp(self):
        self.victor = create_user(username="victor", email="victor@example.com")
        self.lead = create_user(username="lead", email="lead@example.com")
        self.team = create_team(members={self.lead: Membership.Role.LEAD})

    def invite(self, email: str):
        self.client.force_login(self.lead)
        with self.worker():
            return self.client.post(
                reverse("teams:invite-list", args=[self.team.slug]), {"role": "member", "email": email}
            )

    def assert_invites_reach_victor_only(self, mallory: User):
        self.invite("victor@example.com")
        invite = TeamInvite.objects.get()
        assert invite.invitee == self.victor
        assert not TeamInvite.objects.addressed_to(mallory).exists()
        self.client.force_login(mallory)
        self.assertNotContains(self.client.get(reverse("teams:team-list")), self.team.name)
        response = self.client.post(reverse("teams:invitation-accept", args=[invite.pk]))
        assert response.status_code == 404
        assert not self.team.memberships.filter(user=mallory).exists()

    def assert_resets_reach_victor_only(self):
        mail.outbox.clear()
        self.client.logout()
        with (
            mock.patch.object(tasks.send_reset_mail, "delay", side_effect=tasks.send_reset_mail),
            self.captureOnCommitCallbacks(execute=True),
        ):
            self.client.post(reverse("accounts:password-reset"), {"email": "victor@example.com"})
        [message] = mail.outbox
        assert message.to == ["victor@example.com"] and "victor" in message.body

    def test_signing_up_with_the_victims_address(self):
        taken = self.signup("mallory", "Victor@Example.com", REMOTE_ADDR="192.0.2.1")
        self.client.logout()
        fresh = self.signup("someone", "fresh@example.com", REMOTE_ADDR="192.0.2.2")

        # (4) the same answer, to the same page, with the same message apart from the address
        assert (taken.status_code, taken["Location"]) == (fresh.status_code, fresh["Location"])
        # Victor gets a notice, not a link; Mallory has nothing to click.
        notice, link_mail = mail.outbox
        assert notice.to == ["Victor@Example.com"] and not LINK.search(notice.body)
        assert "already belongs to your account" in notice.body
        assert link_mail.to == ["fresh@example.com"] and LINK.search(link_mail.body)
        mallory = User.objects.get(username="mallory")
        assert not mallory.email_verified and mallory.email == ""

        self.assert_invites_reach_victor_only(mallory)
        self.assert_resets_reach_victor_only()

    def test_changing_ones_address_to_the_victims(self):
        mallory = create_user(username="mallory", email="mallory@example.com")
        self.client.force_login(mallory)

        taken = self.change_email("victor@example.com")
        mallory.refresh_from_db()
        mallory.pending_email = ""
        mallory.save()
        fresh = self.change_email("fresh@example.com")

        # (4) same page and the same words either way
        assert taken.redirect_chain == fresh.redirect_chain
        assert [str(m) for m in taken.context["messages"]] == [
            str(m).replace("fresh@example.com", "victor@example.com") for m in fresh.context["messages"]
        ]
        notice = mail.outbox[0]
        assert notice.to == ["victor@example.com"] and not LINK.search(notice.body)
        mallory.refresh_from_db()
        assert mallory.email == "mallory@example.com"

        # Resending for the taken address still sends Victor a notice, never a link.
        mallory.pending_email = "victor@example.com"
        mallory.save()
        mail.outbox.clear()
        with self.worker():
            self.client.post(reverse("accounts:email-resend"))
        assert [m.to for m in mail.outbox] == [["victor@example.com"]] and not LINK.search(mail.outbox[0].body)

        self.assert_invites_reach_victor_only(mallory)
        self.assert_resets_reach_victor_only()

    def test_a_link_cannot_be_used_by_another_signed_in_account(self):
        # (3) Mallory asks for an address she controls... and Victor, signed in, opens her link;
        # then the other way round: Mallory gets hold of Victor's link.
        mallory = create_user(username="mallory", email="mallory@example.com")
        self.client.force_login(mallory)
        self.change_email("mallory@new.example")
        mallorys_link = self.link_in(mail.outbox[-1])
        self.client.force_login(self.victor)
        self.change_email("victor@new.example")
        victors_link = self.link_in(mail.outbox[-1])

        opened_by_victor = self.client.post(mallorys_link)
        self.client.force_login(mallory)
        opened_by_mallory = self.client.post(victors_link)

        for response in (opened_by_victor, opened_by_mallory):
            self.assertContains(response, "This link is for another account", status_code=400)
        mallory.refresh_from_db()
        self.victor.refresh_from_db()
        assert (mallory.email, self.victor.email) == ("mallory@example.com", "victor@example.com")
        assert mallory.pending_email == "mallory@new.example" and self.victor.pending_email == "victor@new.example"

    def test_an_address_confirmed_meanwhile_by_someone_else_is_not_confirmed_again(self):
        # Two accounts wait for the same new address; the first to confirm keeps it.
        mallory = create_user(username="mallory", email="mallory@example.com")
        self.client.force_login(mallory)
        self.change_email("shared@example.com")
        mallorys_link = self.link_in(mail.outbox[-1])
        self.client.force_login(self.victor)
        self.change_email("shared@example.com")
        self.client.post(self.link_in(mail.outbox[-1]))

        self.client.force_login(mallory)
        response = self.client.post(mallorys_link)

        self.assertContains(response, "Another account has confirmed this address", status_code=400)
        assert list(User.objects.with_verified_email("shared@example.com")) == [self.victor]

    def test_the_database_refuses_a_second_account_with_the_same_confirmed_address(self):
        create_user(username="mallory", email="VICTOR@example.com", email_verified_at=None)  # unconfirmed: allowed
        with self.assertRaises(IntegrityError), transaction.atomic():
            create_user(username="mallory2", email="VICTOR@example.com")

    def test_an_invite_does_not_reach_an_unconfirmed_address(self):
        newbie = create_user(username="newbie", email="newbie@example.com", email_verified_at=None)

        answer_unconfirmed = self.invite("newbie@example.com")
        answer_nobody = self.invite("nobody@example.com")

        assert not TeamInvite.objects.filter(invitee__isnull=False).exists()
        assert not TeamInvite.objects.addressed_to(newbie).exists()
        # (4) the lead reads the same for an account, an unconfirmed one and nobody
        answer_victor = self.invite("victor@example.com")
        texts = {
            re.sub(r"<code.*?</code>", "", NEW_INVITE.search(r.content.decode()).group(0)).replace(addr, "ADDR")
            for r, addr in (
                (answer_unconfirmed, "newbie@example.com"),
                (answer_nobody, "nobody@example.com"),
                (answer_victor, "victor@example.com"),
            )
        }
        assert len(texts) == 1
        assert "victor" not in answer_victor.content.decode().replace("victor@example.com", "")

    def test_an_invite_addressed_to_a_since_changed_address_no_longer_shows(self):
        self.invite("victor@example.com")
        self.client.force_login(self.victor)
        self.change_email("victor@new.example")
        self.client.post(self.link_in(mail.outbox[-1]))

        self.victor.refresh_from_db()
        assert self.victor.email == "victor@new.example"
        assert not TeamInvite.objects.addressed_to(self.victor).exists()
