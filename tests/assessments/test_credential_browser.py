"""The public credential page and the verify page in a real browser, on a phone (390 px) and a
desktop (1280 px), light and dark: no sideways scrolling, the copy-link button, the JSON download.
Screenshots go to $TEST_ARTIFACTS/browser/credentials/ (test-artifacts/ in the checkout otherwise)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accounts.models import Membership
from roadmap.models import ArtifactSpec
from tests.assessments.gates import FlushableAuditMixin
from tests.browser.support import OVERFLOW, SIZES, BrowserTestCase, screenshot_folder
from tests.factories import (
    create_artifact,
    create_artifact_spec,
    create_gate,
    create_gate_request,
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


class CredentialPageBrowserTests(FlushableAuditMixin, BrowserTestCase):
    def setUp(self):
        super().setUp()
        roadmap = create_roadmap(slug="llm-systems-engineering", title="LLM Systems Engineering")
        layer = create_layer(roadmap=roadmap, number=7, slug="kv-cache-long-context", title="KV Cache and Long Context")
        spec = create_artifact_spec(
            roadmap=roadmap, kind=ArtifactSpec.Kind.KV_CALCULATOR, code="09", title="KV Cache Calculator"
        )
        gate = create_gate(layer=layer, level=create_level(roadmap=roadmap, number=3), artifacts=(spec,))
        learner = create_user(username="lena", display_name="Lena Learner")
        reviewer = create_user(username="rita", display_name="Rita Reviewer")
        create_team(name="Inference", members={learner: Membership.Role.MEMBER, reviewer: Membership.Role.REVIEWER})
        artifact = create_artifact(owner=learner, spec=spec, title="KV cache calculator for GQA and MLA")
        version = create_version(artifact=artifact)
        finish_run(create_run(version=version))
        request = create_gate_request(learner=learner, gate=gate, versions=(version,), submit=True)
        request.approve(by=reviewer, marks=["met", "met"])
        self.credential = request.issue_credential(by=learner)
        self.shots = screenshot_folder("credentials")

    def test_the_credential_page_reads_on_a_phone_and_a_desktop(self):
        from playwright.sync_api import expect

        self.look(None, self.credential.get_absolute_url(), self.shots, "credential")
        page = self.page_as(viewport=SIZES["phone"], permissions=["clipboard-read", "clipboard-write"])
        page.goto(self.live_server_url + self.credential.get_absolute_url())
        expect(page.locator(".verdict h2")).to_have_text("Valid")
        expect(page.locator("meta[property='og:title']")).to_have_attribute(
            "content", "Lena Learner: Layer 7: KV Cache and Long Context"
        )
        page.click("text=Copy link")
        expect(page.locator(".copy-status")).to_have_text("Link copied.")
        assert page.evaluate("navigator.clipboard.readText()").endswith(self.credential.get_absolute_url())
        with page.expect_download() as download:
            page.click("text=Download JSON")
        assert json.loads(Path(download.value.path()).read_text()) == self.credential.document
        assert self.errors == []

    def test_the_verify_page_reads_on_a_phone_and_a_desktop(self):
        from playwright.sync_api import expect

        page = self.page_as(viewport=SIZES["phone"])
        page.goto(self.live_server_url + "/credentials/verify/")
        tampered = json.loads(json.dumps(self.credential.document))
        tampered["credentialSubject"]["name"] = "Mallory"
        page.fill("textarea[name=credential]", json.dumps(tampered))
        page.click("button:has-text('Verify')")
        expect(page.locator(".verdict h2")).to_have_text("Tampered")
        page.screenshot(path=self.shots / "verify-tampered-phone-light.png", full_page=True)
        overflow = page.evaluate(OVERFLOW)
        assert overflow <= 0, f"the verify page scrolls sideways by {overflow} px"
        self.look(None, f"/credentials/verify/?id={self.credential.pk}", self.shots, "verify-valid")
        assert self.errors == []
