"""The benchmark results page of an open-loop sweep in Chromium: no sideways scroll on a phone,
no script errors, the charts drawn, in light and dark. With LAYERWISE_SCREENSHOTS=dir the
screenshots are kept there (390 and 1280 px wide, both colour schemes) to be looked at."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.support import BrowserTestCase
from tests.portfolio.test_benchmark_results import benchmark_artifact, benchmark_run

pytestmark = pytest.mark.browser

SHOTS = os.environ.get("LAYERWISE_SCREENSHOTS")


class BenchResultsPageTests(BrowserTestCase):
    def test_the_sweep_page_fits_a_phone_and_a_desktop_in_both_schemes(self):
        artifact = benchmark_artifact()
        earlier = benchmark_run(artifact=artifact, recorded="bench_cpu_open_loop.json")
        run = benchmark_run(artifact=artifact, recorded="bench_cpu_open_loop.json")
        owner = run.version.artifact.owner
        for width in (390, 1280):
            for scheme in ("light", "dark"):
                page = self.page_as(owner, viewport={"width": width, "height": 900}, color_scheme=scheme)
                page.goto(f"{run.get_absolute_url()}?compare={earlier.pk}")
                assert page.locator("#sweep svg.chart").count() >= 3
                overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
                assert overflow <= 0, (width, scheme, overflow)
                if SHOTS:
                    Path(SHOTS).mkdir(parents=True, exist_ok=True)
                    for anchor in ("sweep", "compare", "latency", "trials", "distributions"):
                        page.locator(f"#{anchor}").scroll_into_view_if_needed()
                        page.evaluate(f"document.getElementById('{anchor}').scrollIntoView()")
                        page.screenshot(path=f"{SHOTS}/bench-{width}-{scheme}-{anchor}.png")
        assert self.errors == []
