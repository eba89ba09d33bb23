"""In a real browser: a role set from its select and a notification marked read, both without a reload."""

from __future__ import annotations

import os
import shutil

import pytest
from django.contrib.staticfiles.testing import StaticLiveServerTestCase

from accounts.models import Notification
from tests.factories import create_notification, create_team, create_user

pytestmark = pytest.mark.browser
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")


# Skipped without Chromium, except where LAYERWISE_REQUIRE_BROWSER (make test, CI) says it must run.
@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("LAYERWISE_REQUIRE_BROWSER"),
    reason="needs chromium (apt-get install chromium)",
)
class TeamBrowserTests(StaticLiveServerTestCase):
    @classmethod
    def setUpClass(cls):
        # Playwright's sync API runs an event loop in this thread; the ORM calls here are still synchronous.
        cls._async_unsafe = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        super().setUpClass()
        from playwright.sync_api import sync_playwright

        cls.playwright = sync_playwright().start()
        cls.browser = cls.playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()
        cls.playwright.stop()
        super().tearDownClass()
        if cls._async_unsafe is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = cls._async_unsafe

    def setUp(self):
        self.lead = create_user(username="lena")
        self.ada = create_user(username="ada")
        self.team = create_team(members={self.lead: "lead", self.ada: "member"})
        self.client.force_login(self.lead)
        context = self.browser.new_context()
        context.add_cookies(
            [{"name": "sessionid", "value": self.client.cookies["sessionid"].value, "url": self.live_server_url}]
        )
        self.page = context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.addCleanup(context.close)

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
