"""What every browser test shares: Playwright driving Debian's Chromium against the live server.

Without Chromium or Playwright a browser test class is skipped, unless LAYERWISE_REQUIRE_BROWSER is
set (`make test` and CI set it), which makes a missing browser a failure instead of a silent skip.
The same holds for axe-core (tests/browser/package.json; `make test` runs npm ci there) in the
classes that call check_axe.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, ClassVar
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.staticfiles.testing import StaticLiveServerTestCase

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
REQUIRE_BROWSER = bool(os.environ.get("LAYERWISE_REQUIRE_BROWSER"))
AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
# The two widths every page is checked at: a phone and a desktop.
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}
OVERFLOW = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


def screenshot_folder(name: str) -> Path:
    """$TEST_ARTIFACTS/browser/<name>/ (test-artifacts/ in the checkout without it), created."""
    folder = Path(os.environ.get("TEST_ARTIFACTS") or Path(settings.BASE_DIR) / "test-artifacts") / "browser" / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


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


def check_axe() -> None:
    """Like check_browser, for axe-core: a failure where LAYERWISE_REQUIRE_BROWSER is set."""
    check_browser()
    if not AXE.is_file():
        missing = f"needs axe-core at {AXE} (cd tests/browser && npm ci)"
        if REQUIRE_BROWSER:
            pytest.fail(f"{missing} (LAYERWISE_REQUIRE_BROWSER is set)")
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

    def look(self, user: Any, path: str, folder: Path, name: str) -> None:
        """Open `path` at each of SIZES in each colour scheme, as `user` (None: signed out): a
        full-page screenshot each into `folder`, and no sideways scroll."""
        for size, viewport in SIZES.items():
            for scheme in ("light", "dark"):
                page = self.page_as(user, viewport=viewport, color_scheme=scheme)
                page.goto(self.live_server_url + path)
                overflow = page.evaluate(OVERFLOW)
                page.screenshot(path=folder / f"{name}-{size}-{scheme}.png", full_page=True)
                assert overflow <= 0, f"{name} scrolls sideways by {overflow} px at {size} ({scheme})"

    def shoot_here(self, page: Any, folder: Path, name: str) -> None:
        """The page as it is now (after clicks: not reloaded) at each of SIZES and each colour scheme: a
        full-page screenshot each into `folder`, and no sideways scroll; it ends at 1,280 px, light."""
        for size, viewport in SIZES.items():
            page.set_viewport_size(viewport)
            overflow = page.evaluate(OVERFLOW)
            assert overflow <= 0, f"{page.url} scrolls sideways by {overflow} px at {size}"
            for scheme in ("light", "dark"):
                page.emulate_media(color_scheme=scheme)
                page.screenshot(path=folder / f"{name}-{size}-{scheme}.png", full_page=True)
        page.emulate_media(color_scheme="light")
        page.set_viewport_size(SIZES["desktop"])


class BrowserTestCase(BrowserMixin, StaticLiveServerTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        check_browser()
        super().setUpClass()
        cls.start_browser()
