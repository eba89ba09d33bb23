"""What every browser test shares: Playwright driving Debian's Chromium against the live server.

Without Chromium or Playwright a browser test class is skipped, unless LAYERWISE_REQUIRE_BROWSER is
set (`make test` and CI set it), which makes a missing browser a failure instead of a silent skip.
"""

from __future__ import annotations

import os
import shutil
from typing import Any, ClassVar
from unittest import mock

import pytest
from django.contrib.staticfiles.testing import StaticLiveServerTestCase

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
REQUIRE_BROWSER = bool(os.environ.get("LAYERWISE_REQUIRE_BROWSER"))


def browser_missing() -> str | None:
    if CHROMIUM is None:
        return "needs chromium (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "needs playwright (pip install -r requirements-dev.txt)"
    return None


def check_browser() -> None:
    """Skip, or fail where LAYERWISE_REQUIRE_BROWSER is set, when the browser is missing. Call it
    before any class state exists (before super().setUpClass()): pytest's skip is not an Exception,
    so unittest's class cleanups would not run after it."""
    missing = browser_missing()
    if missing and REQUIRE_BROWSER:
        pytest.fail(f"{missing} (LAYERWISE_REQUIRE_BROWSER is set)")
    if missing:
        pytest.skip(missing)


class BrowserMixin:
    """One Chromium per test class; `page_as` opens a page in a fresh context, logged in or not,
    and collects its script errors and console errors in `self.errors`."""

    browser: ClassVar[Any]
    errors: list[str]

    @classmethod
    def start_browser(cls) -> None:
        from playwright.sync_api import sync_playwright

        # Playwright's sync API runs an event loop in this thread; the ORM calls here are still synchronous.
        environ = mock.patch.dict(os.environ, {"DJANGO_ALLOW_ASYNC_UNSAFE": "true"})
        environ.start()
        cls.addClassCleanup(environ.stop)
        playwright = sync_playwright().start()
        cls.addClassCleanup(playwright.stop)
        cls.browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        cls.addClassCleanup(cls.browser.close)

    def setUp(self) -> None:
        super().setUp()
        self.errors = []

    def page_as(self, user: Any = None, **context_options: Any) -> Any:
        """A page in a fresh browser context (nothing cached), with `user`'s session if given."""
        context = self.browser.new_context(base_url=self.live_server_url, **context_options)
        self.addCleanup(context.close)
        if user is not None:
            self.client.force_login(user)
            context.add_cookies(
                [{"name": "sessionid", "value": self.client.cookies["sessionid"].value, "url": self.live_server_url}]
            )
        page = context.new_page()
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))
        page.on("console", lambda m: self.errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
        return page


class BrowserTestCase(BrowserMixin, StaticLiveServerTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        check_browser()
        super().setUpClass()
        cls.start_browser()
