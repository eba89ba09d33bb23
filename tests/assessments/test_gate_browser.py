"""The gate loop in a real browser: pin with htmx, submit, approve, share, verify."""

from __future__ import annotations

import pytest

from accounts.models import Membership
from assessments.models import AuditEvent, GateRequest
from roadmap.models import ArtifactSpec
from tests.assessments.gates import FlushableAuditMixin
from tests.browser.support import BrowserTestCase, screenshot_folder
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


class ReviewerPathBrowserTests(FlushableAuditMixin, BrowserTestCase):
    """Issue 12: the reviewer's path both ways. A failing required run: approving is refused, naming
    the spec; an attestation approves, labelled. A passing one: approved on machine evidence."""

    def setUp(self):
        super().setUp()
        roadmap = create_roadmap(slug="llm")
        self.layer = create_layer(roadmap=roadmap, number=7, slug="kv-cache", title="KV Cache")
        spec = create_artifact_spec(
            roadmap=roadmap, kind=ArtifactSpec.Kind.KV_CALCULATOR, code="09", title="KV Cache Calculator"
        )
        gate = create_gate(layer=self.layer, level=create_level(roadmap=roadmap, number=1), artifacts=(spec,))
        self.learner = create_user(username="lena", display_name="Lena Learner")
        self.reviewer = create_user(username="rita", display_name="Rita Reviewer")
        create_team(members={self.learner: Membership.Role.MEMBER, self.reviewer: Membership.Role.REVIEWER})
        self.version = create_version(artifact=create_artifact(owner=self.learner, spec=spec, title="My calculator"))
        self.gate = gate

    def submitted(self, verdict: str) -> GateRequest:
        finish_run(create_run(version=self.version), verdict=verdict)
        return create_gate_request(learner=self.learner, gate=self.gate, versions=(self.version,), submit=True)

    def shoot(self, page, name: str) -> None:
        self.shoot_here(page, screenshot_folder("gates"), name)

    def decide_approve(self, page) -> None:
        for radio in page.locator("input[type=radio][value=met]").all():
            radio.check()
        page.check("input[name=decision][value=approve]")
        page.click("text=Record decision")

    def test_a_failing_run_is_refused_then_approved_on_an_attestation(self):
        from playwright.sync_api import expect

        request = self.submitted("wrong")
        page = self.page_as(self.reviewer)
        page.goto(self.live_server_url + request.get_review_url())
        expect(page.locator("#machine-gaps")).to_contain_text("09 KV Cache Calculator: run #")
        self.decide_approve(page)
        expect(page.locator(".message-error")).to_contain_text("Approval needs machine evidence")
        expect(page.locator(".message-error")).to_contain_text("09 KV Cache Calculator")
        self.shoot(page, "review-refused")
        assert GateRequest.objects.get(pk=request.pk).status == "submitted"
        page.fill("textarea[name=attest_reason]", "I ran it with Lena; the grader's case is wrong.")
        self.decide_approve(page)
        expect(page.locator(".message-success")).to_contain_text("Approved on your attestation")
        expect(page.locator(".status-banner .pill-attested")).to_have_text("attested")
        self.shoot(page, "review-attested")

        page = self.page_as(self.learner)
        page.goto(self.live_server_url + request.get_absolute_url())
        expect(page.locator(".status-banner.is-ok")).to_contain_text("Approved on attestation.")
        self.shoot(page, "request-attested")
        page.goto(self.live_server_url + "/me/?roadmap=llm")
        expect(page.locator(".verified-basis")).to_contain_text("rests partly on a reviewer's attestation")
        self.shoot(page, "dashboard-attested")
        # The refused decision came back as a 422 page, which Chromium logs; nothing else may.
        assert [e for e in self.errors if "status of 422" not in e] == []
        request.refresh_from_db()
        assert request.attested and request.attestation_reason.startswith("I ran it with Lena")

    def test_a_passing_run_is_approved_on_machine_evidence(self):
        from playwright.sync_api import expect

        request = self.submitted("passed")
        page = self.page_as(self.reviewer)
        page.goto(self.live_server_url + request.get_review_url())
        expect(page.locator("#machine-gaps")).to_have_count(0)
        expect(page.locator(".evidence-item .pill-ok")).to_have_text("passed")
        self.decide_approve(page)
        expect(page.locator(".message-success")).to_have_text("Approved. Lena Learner has been notified.")
        expect(page.locator(".pill-attested")).to_have_count(0)

        page = self.page_as(self.learner)
        page.goto(self.live_server_url + "/me/?roadmap=llm")
        expect(page.locator(".verified-basis")).to_have_text("On machine-verified evidence.")
        assert self.errors == []
        assert not GateRequest.objects.get(pk=request.pk).attested

    def test_the_gate_form_warns_before_leaving_with_unsaved_changes_and_submit_keeps_them(self):
        from playwright.sync_api import expect

        finish_run(create_run(version=self.version))
        request = create_gate_request(learner=self.learner, gate=self.gate, versions=(self.version,))
        page = self.page_as(self.learner)
        page.goto(self.live_server_url + request.get_absolute_url())
        self.shoot(page, "request-draft")
        page.fill("textarea[name=explanation]", "Rewritten, never saved as a draft.")
        dialogs = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.dismiss()))
        page.click("a.brand", no_wait_after=True)  # leaving asks; dismissed, we stay
        expect(page.locator("textarea[name=explanation]")).to_have_value("Rewritten, never saved as a draft.")
        assert dialogs == ["beforeunload"]
        page.click("form[data-warn-unsaved] button:has-text('Submit')")
        expect(page.locator(".status-banner")).to_contain_text("Submitted")
        assert dialogs == ["beforeunload"]  # submitting the form itself never asks
        request.refresh_from_db()
        assert request.status == "submitted" and request.explanation == "Rewritten, never saved as a draft."
