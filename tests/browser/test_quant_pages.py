"""The quantizer's (10) spec page and a run page in Chromium: no sideways scroll at 390 px, light
or dark, and no script errors. With LAYERWISE_SCREENSHOTS=<folder> it also saves each page at 390
and 1280 px, light and dark, for a person to look at."""

from __future__ import annotations

import os
from pathlib import Path

from django.contrib.staticfiles.testing import StaticLiveServerTestCase

from tests.browser.support import BrowserMixin, check_browser
from tests.portfolio.test_quant_pages import quant_run, quant_spec

SHOTS = os.environ.get("LAYERWISE_SCREENSHOTS")


class QuantizerPagesInABrowserTests(BrowserMixin, StaticLiveServerTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        check_browser()
        super().setUpClass()
        cls.start_browser()

    def look(self, name: str, path: str, user=None) -> None:
        for scheme in ("light", "dark"):
            for width in (390, 1280):
                page = self.page_as(user, viewport={"width": width, "height": 900}, color_scheme=scheme)
                response = page.goto(path)
                assert response is not None and response.status == 200, path
                overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
                assert overflow <= 0, f"{name} scrolls sideways by {overflow} px at {width} px ({scheme})"
                if SHOTS:
                    Path(SHOTS).mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(Path(SHOTS) / f"{name}-{width}-{scheme}.png"), full_page=True)
        assert self.errors == []

    def test_the_spec_page(self):
        self.look("quant-spec", quant_spec().get_absolute_url())

    def test_a_run_page(self):
        run = quant_run()
        self.look("quant-run", run.get_absolute_url(), user=run.version.artifact.owner)
