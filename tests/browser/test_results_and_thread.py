"""Issue 14 (items 1 and 6) in a real browser: the KV run page (failing with hidden failures, and
passing) and a gate request's conversation, at 390 and 1,280 px, light and dark: no sideways
scroll, no console error, and a failing case's expected / observed / error / result on screen
at 390 px. Screenshots go to $SCREENSHOT_DIR (default /tmp/layerwise-screenshots) to look at."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assessments.models import GateRequest
from portfolio.models import Run
from tests.assessments.gates import LEAD, MEMBER, REVIEWER, FlushableAuditMixin
from tests.browser.support import BrowserTestCase
from tests.factories import create_gate, create_gate_request, create_layer, create_roadmap, create_team, create_user
from tests.portfolio.test_kv_results import categorised, kv_run

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("SCREENSHOT_DIR", "/tmp/layerwise-screenshots"))
WIDTHS = (390, 1280)
SCHEMES = ("light", "dark")


class ResultsAndThreadBrowserTests(FlushableAuditMixin, BrowserTestCase):
    def look(self, user, url: str, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        for width in WIDTHS:
            for scheme in SCHEMES:
                with self.subTest(page=name, width=width, scheme=scheme):
                    page = self.page_as(user, viewport={"width": width, "height": 900}, color_scheme=scheme)
                    page.goto(url)
                    page.screenshot(path=str(SHOTS / f"{name}-{width}-{scheme}.png"), full_page=True)
                    page.screenshot(path=str(SHOTS / f"{name}-{width}-{scheme}-top.png"))
                    if page.locator("#gate-thread").count():
                        page.locator("#gate-thread").screenshot(path=str(SHOTS / f"{name}-{width}-{scheme}-thread.png"))
                    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                    assert overflow <= 0, f"{name} scrolls sideways by {overflow} px at {width} px"
                    assert not self.errors, self.errors

    def test_a_failing_kv_run_with_hidden_failures(self):
        run = categorised(kv_run())
        self.look(run.version.artifact.owner, run.get_absolute_url(), "kv-run-failing")
        page = self.page_as(run.version.artifact.owner, viewport={"width": 390, "height": 900})
        page.goto(run.get_absolute_url())
        row = page.locator("tr.case-failed").first
        row.screenshot(path=str(SHOTS / "kv-run-failing-390-light-failed-case.png"))
        page.locator(".hidden-cases tr.case-failed").first.screenshot(
            path=str(SHOTS / "kv-run-failing-390-light-hidden-failed-case.png")
        )
        for label in ("Expected", "Observed", "Error", "Result"):
            cell = row.locator(f'td[data-label="{label}"]')
            box = cell.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, label

    def test_a_passing_kv_run(self):
        run = kv_run(name="kv_gpu_result.json")
        assert run.status == Run.Status.SUCCEEDED
        self.look(run.version.artifact.owner, run.get_absolute_url(), "kv-run-passing")

    def test_the_conversation_on_a_gate_request(self):
        layer = create_layer(roadmap=create_roadmap(slug="llm"), number=7, slug="kv-cache", title="KV Cache")
        gate = create_gate(layer=layer)
        self.learner = create_user(username="lena", display_name="Lena Learner")
        self.reviewer = create_user(username="rita", display_name="Rita Reviewer")
        create_team(members={self.learner: MEMBER, self.reviewer: REVIEWER, create_user(): LEAD})
        request = create_gate_request(learner=self.learner, gate=gate, submit=True)
        request.reply(by=self.learner, body="I measured the **sliding window** case on a CPU; is that enough?")
        reply = request.reply(by=self.reviewer, body="Yes, but link the run in your explanation:\n\n- run #3")
        request.request_changes(by=self.reviewer, comment="Link the run, please.", quote=reply.pk)
        request = GateRequest.objects.get(pk=request.pk)
        self.look(self.learner, request.get_absolute_url(), "gate-request-thread")
        request.submit(by=self.learner)
        request.reply(by=self.learner, body="Linked it: see the explanation.")
        self.look(self.reviewer, request.get_review_url(), "gate-review-thread")
