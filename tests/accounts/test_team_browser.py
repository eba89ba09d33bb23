"""In a real browser: a role set from its select and a notification marked read, both without a reload."""

from __future__ import annotations

import pytest

from accounts.models import Notification
from tests.browser.support import BrowserTestCase
from tests.factories import create_notification, create_team, create_user

pytestmark = pytest.mark.browser


class TeamBrowserTests(BrowserTestCase):
    def setUp(self):
        super().setUp()
        self.lead = create_user(username="lena")
        self.ada = create_user(username="ada")
        self.team = create_team(members={self.lead: "lead", self.ada: "member"})
        self.page = self.page_as(self.lead)

    def test_choosing_a_role_saves_it_without_a_reload(self):
        self.page.goto(self.live_server_url + self.team.get_absolute_url())
        self.page.evaluate("window.notReloaded = true")
        ada = self.team.memberships.get(user=self.ada)

        with self.page.expect_response(lambda r: "/role/" in r.url):
            self.page.select_option(f"#role-{ada.pk}", "reviewer")

        self.page.wait_for_selector(f"#role-{ada.pk} option[value=reviewer][selected]", state="attached")
        assert self.team.role_of(self.ada) == "reviewer"
        assert self.page.evaluate("window.notReloaded") is True
        assert self.errors == []

    def test_marking_a_notification_read_updates_the_bell(self):
        create_notification(user=self.lead, title="Run #1 passed")
        create_notification(user=self.lead, title="Run #2 passed")
        self.page.goto(self.live_server_url + "/accounts/notifications/")
        assert self.page.inner_text("#nav-bell .badge-count") == "2"

        with self.page.expect_response(lambda r: "/read/" in r.url):
            self.page.click("#notifications li.is-unread button")

        self.page.wait_for_function("document.querySelector('#nav-bell .badge-count').textContent.trim() === '1'")
        assert Notification.objects.of(self.lead).unread().count() == 1
        assert self.errors == []
