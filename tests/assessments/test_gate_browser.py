"""The gate loop in a real browser: pin with htmx, submit, approve, share, verify."""

from __future__ import annotations

import pytest

from accounts.models import Membership
from assessments.models import AuditEvent, GateRequest
from roadmap.models import ArtifactSpec
from tests.assessments.gates import FlushableAuditMixin
from tests.browser.support import BrowserTestCase
from tests.factories import (
    create_artifact,
    create_artifact_spec,
    create_gate,
    create_layer,
    create_level,
    create_roadmap,
    create_run,
    create_team,
    create_user,
    create_version,
    finish_run,
)

pytestmark = pytest.mark.browser


class GateLoopBrowserTests(FlushableAuditMixin, BrowserTestCase):
    def setUp(self):
        super().setUp()
        roadmap = create_roadmap(slug="llm")
        self.layer = create_layer(roadmap=roadmap, slug="kv-cache", title="KV Cache")
        spec = create_artifact_spec(roadmap=roadmap, kind=ArtifactSpec.Kind.KV_CALCULATOR, code="09")
        create_gate(layer=self.layer, level=create_level(roadmap=roadmap, number=1), artifacts=(spec,))
        self.learner = create_user(username="lena")
        self.reviewer = create_user(username="rita")
        create_team(members={self.learner: Membership.Role.MEMBER, self.reviewer: Membership.Role.REVIEWER})
        version = create_version(artifact=create_artifact(owner=self.learner, spec=spec))
        finish_run(create_run(version=version))

    def test_request_pin_submit_approve_share_and_verify(self):
        from playwright.sync_api import expect

        page = self.page_as(self.learner)
        page.goto(self.live_server_url + self.layer.get_absolute_url())
        page.click("text=Request sign-off")
        request_url = page.url
        page.evaluate("window.notReloaded = true")
        page.locator(".pin-row button:has-text('Pin')").first.click()
        expect(page.locator("#request-evidence .evidence-item")).to_have_count(1)
        expect(page.locator("#request-evidence .requirement.is-ok")).to_have_count(1)
        assert page.evaluate("window.notReloaded") is True  # htmx swapped the section in place
        page.fill("textarea[name=explanation]", "It matches the measured cache.")
        for box in page.locator("input[name=ticks]").all():
            box.check()
        page.click("text=Save draft")
        page.click("button:has-text('Submit')")
        expect(page.locator(".status-banner")).to_contain_text("Submitted")

        page = self.page_as(self.reviewer)
        page.goto(self.live_server_url + "/reviews/")
        page.locator("table.inbox a").first.click()
        for radio in page.locator("input[type=radio][value=met]").all():
            radio.check()
        page.check("input[name=decision][value=approve]")
        page.click("text=Record decision")
        expect(page.locator(".message-success")).to_contain_text("Approved")

        page = self.page_as(self.learner)
        page.goto(request_url)
        page.click("text=Issue a credential")
        page.click("text=Check it on the verification page")
        expect(page.locator(".verdict h2")).to_have_text("Valid")
        assert self.errors == []
        request = GateRequest.objects.get()
        assert request.status == "approved"
        assert list(AuditEvent.objects.filter(request_id=request.pk).values_list("action", flat=True)) == [
            "created",
            "submitted",
            "review_started",
            "approved",
            "credential_issued",
        ]
