"""Issue 7's two journeys in a real browser: Playwright driving Debian's Chromium against a live
server, with the real Django and runner workers of tests/portfolio/workers.py and the real KV cache
calculator grader in the bubblewrap sandbox, on the shipped roadmaps (fixtures/roadmaps).

* A learner signs up, marks topics of layer 7 (KV Cache and Long Context) with the one-click
  buttons, rates herself, starts artifact 09 (KV Cache Calculator), uploads a correct calculator,
  watches its run page until the grader says passed, joins her team from an invitation link and
  asks for sign-off of the layer's gate with the run pinned.
* A reviewer of her team logs in, finds the request in the Reviews inbox, reads the pinned evidence
  with its run's verdict and environment, marks the criteria and approves; the learner then sees
  verified level 3 beside her self-rating.

Every step leaves a full-page screenshot in $TEST_ARTIFACTS/browser/<test>/<database>/ (bin/run-tests
sets TEST_ARTIFACTS; test-artifacts/ in the checkout otherwise; one folder per database, so the
suite's two passes keep theirs apart). Without Chromium or Playwright the class is skipped, unless
LAYERWISE_REQUIRE_BROWSER is set (`make test` sets it), which makes that a failure.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.db import connection
from django.test import override_settings
from django.urls import reverse

from accounts.models import Membership, Notification, User
from assessments.models import AuditEvent, GateRequest, SelfAssessment, TopicProgress
from portfolio.models import Run
from portfolio.uploads import inspect_file
from roadmap.content import load
from roadmap.models import EvaluationGate, Layer
from tests.assessments.gates import FlushableAuditMixin
from tests.browser.support import BrowserMixin, check_browser
from tests.factories import (
    create_artifact,
    create_assessment,
    create_gate_request,
    create_invite,
    create_team,
    create_user,
)
from tests.portfolio.workers import REPO, RealWorkersTestCase

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.sandbox, pytest.mark.runner_env]

CORRECT_CALCULATOR = REPO / "tests/runner/kv/submissions/correct.py"
ROADMAP = "llm-systems-engineering"
LAYER = "kv-cache-long-context"
PASSWORD = "kv-cache-journey-7"
# The real grader builds models from their configs and measures their caches (15 to 25 s on a
# 2-core CPU): the production limits, not the pipeline tests' 5 s for a trivial script.
KV_LIMITS = {"wall_s": 180, "cpu_s": 300, "memory_mb": 4096, "processes": 64, "file_mb": 64, "output_kb": 256}
RUN_TIMEOUT_S = 120


@override_settings(
    RUNNER_GRADERS={"kv_calculator": ("kv_calculator", "2"), "inference_benchmark": ("inference_benchmark", "1")},
    RUNNER_LIMITS=KV_LIMITS,
)
class JourneyTests(FlushableAuditMixin, BrowserMixin, RealWorkersTestCase, StaticLiveServerTestCase):
    """RealWorkersTestCase starts both workers on a test database in a file (shared_database), which
    the live server's thread opens too: the browser, the workers and this test see the same rows."""

    redis_db = 11

    @classmethod
    def check_requirements(cls) -> None:
        check_browser()

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()  # the checks, the live server, then both workers
        cls.start_browser()

    def setUp(self) -> None:
        super().setUp()
        load(settings.CONTENT_DIR)
        self.layer = Layer.objects.select_related("gate__level").get(roadmap__slug=ROADMAP, slug=LAYER)
        self.gate = self.layer.gate
        self.reviewer = create_user(username="rita", display_name="Rita Reviewer", password=PASSWORD)
        lead = create_user(username="leo", display_name="Leo Lead")
        teammate = create_user(username="otto", display_name="Otto Other")
        self.team = create_team(
            name="Inference", members={self.reviewer: Membership.Role.REVIEWER, lead: Membership.Role.LEAD}
        )
        self.team.add_member(teammate, Membership.Role.MEMBER)
        _, self.invite_token = create_invite(team=self.team, by=lead)
        # A teammate's request for layer 5 waits already, so the inbox has an older one to list first.
        layer5 = EvaluationGate.objects.get(layer__roadmap__slug=ROADMAP, layer__slug="inference-fundamentals")
        create_gate_request(learner=teammate, gate=layer5, submit=True)

        self.pages: list[Any] = []
        self.shot = 0
        artifacts = Path(os.environ.get("TEST_ARTIFACTS") or REPO / "test-artifacts")
        self.shots = artifacts / "browser" / self._testMethodName / connection.vendor
        shutil.rmtree(self.shots, ignore_errors=True)
        self.shots.mkdir(parents=True)

    # --- helpers ---

    def new_page(self) -> Any:
        """A page in a fresh browser context: nobody logged in, nothing cached."""
        page = self.page_as(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(20_000)
        self.pages.append(page)
        return page

    def snap(self, page: Any, step: str) -> None:
        self.shot += 1
        page.evaluate("window.scrollTo(0, 0)")  # else the sticky header lands mid-page in a full-page shot
        page.screenshot(path=self.shots / f"{self.shot:02d}-{step}.png", full_page=True)

    @contextlib.contextmanager
    def screenshots_on_failure(self) -> Iterator[None]:
        try:
            yield
        except BaseException:
            for n, page in enumerate(self.pages, start=1):
                with contextlib.suppress(Exception):
                    page.screenshot(path=self.shots / f"failed-page-{n}.png", full_page=True)
            raise

    def log_in(self, page: Any, username: str) -> None:
        page.goto("/")
        page.click(".nav-user a:has-text('Log in')")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        self.snap(page, f"log-in-{username}")
        page.click("form.auth-form button[type=submit]")
        page.wait_for_selector(".nav-user .nav-name")

    def not_reloaded(self, page: Any) -> bool:
        return page.evaluate("window.notReloaded === true")

    # --- the journeys ---

    def test_a_learner_signs_up_works_through_layer_7_and_asks_for_sign_off_on_a_verified_run(self):
        from playwright.sync_api import expect

        with self.screenshots_on_failure():
            page = self.new_page()

            # Sign up from the home page.
            page.goto("/")
            expect(page.locator("h2 a", has_text="LLM Systems Engineering")).to_be_visible()
            self.snap(page, "home")
            page.click(".nav-user a:has-text('Sign up')")
            page.fill("#id_username", "lena")
            page.fill("#id_email", "lena@example.com")
            page.fill("#id_display_name", "Lena Learner")
            page.fill("#id_password1", PASSWORD)
            page.fill("#id_password2", PASSWORD)
            self.snap(page, "sign-up")
            page.click("form.auth-form button[type=submit]")
            expect(page.locator(".message-success")).to_contain_text("Welcome, Lena Learner.")
            expect(page.locator(".nav-user .nav-name")).to_have_text("Lena Learner")
            self.snap(page, "signed-up")
            learner = User.objects.get(username="lena")

            # The roadmap, then layer 7.
            page.click("h2 a:has-text('LLM Systems Engineering')")
            page.click(f"#layer-{LAYER} h3 a")
            expect(page.locator("h1")).to_have_text("KV Cache and Long Context")

            # One click per topic, answered in place: the marker on window survives.
            page.evaluate("window.notReloaded = true")
            for button in (
                "#status-kv-cache-sizing-done",
                "#confidence-kv-cache-sizing-4",
                "#status-kv-cache-architecture-variants-done",
                "#status-kv-memory-budget-learning",
                "#status-paged-attention-learning",
            ):
                page.click(button)
                expect(page.locator(button)).to_have_attribute("aria-pressed", "true")
            expect(page.locator(f"#layer-progress-{LAYER} .progress-counts")).to_contain_text(
                "2 done · 2 learning · 0 skipped · of 10"
            )
            assert self.not_reloaded(page)
            self.snap(page, "layer-7-topics-marked")

            # Rate herself: level 2 with a justification.
            page.click("#self-rating a:has-text('Rate yourself')")
            page.check("input[name=level][value='2']")
            page.fill("#id_justification", "I can size a KV cache by hand for MHA, GQA and MQA models.")
            self.snap(page, "self-rating")
            page.click("button:has-text('Save rating')")
            expect(page.locator(".message-success")).to_have_text("Saved: level 2.")
            page.click("a:has-text('Back to the layer')")
            expect(page.locator("#self-rating .level-self")).to_have_text("2")
            expect(page.locator("#self-rating .level-verified")).to_have_text("0")
            self.snap(page, "layer-7-self-rated")

            # Artifact 09 from the gate's required evidence: its spec page, start it, upload.
            page.click("#gate a:has-text('09 KV Cache Calculator')")
            expect(page.locator("h1")).to_have_text("KV Cache Calculator")
            self.snap(page, "spec-09")
            page.click("a:has-text('Start this artifact')")
            expect(page.locator("#id_title")).to_have_value("KV Cache Calculator")
            page.click("button:has-text('Create artifact')")
            expect(page.locator(".message-success")).to_contain_text("Created “KV Cache Calculator”")
            page.click("a.button:has-text('Upload a version')")
            page.set_input_files(
                "input[name=file]",
                files=[
                    {"name": "kv_calculator.py", "mimeType": "text/x-python", "buffer": CORRECT_CALCULATOR.read_bytes()}
                ],
            )
            page.fill("textarea[name=notes]", "Reads `head_dim` from the config; sliding windows and MLA handled.")
            self.snap(page, "upload")
            page.get_by_role("button", name="Upload", exact=True).click()

            # The run page polls every 2 s while the run is active, then stops: the verdict arrives in place.
            expect(page.locator("h1")).to_have_text("KV Cache Calculator, version 1")
            page.evaluate("window.notReloaded = true")
            self.snap(page, "run-queued")
            status = page.locator("#run-status")
            expect(status.locator(".run-state .pill")).to_have_text("Running", timeout=RUN_TIMEOUT_S * 1000)
            self.snap(page, "run-running")
            try:
                expect(page.locator("#run-status[hx-trigger]")).to_have_count(0, timeout=RUN_TIMEOUT_S * 1000)
            except AssertionError:
                self.fail(
                    f"the run did not finish in {RUN_TIMEOUT_S} s\n--- django worker ---\n"
                    f"{self.django_worker.tail()}\n--- runner worker ---\n{self.runner_worker.tail()}"
                )
            expect(status.locator(".run-state .pill")).to_have_text("Succeeded")
            expect(status.locator(".verdict")).to_have_text("verdict passed")
            # The case counts say it once (issue 14): every public and every hidden case passed.
            counts = page.locator("dl.stats .stat dd").all_inner_texts()
            assert len(counts) >= 2 and all(re.fullmatch(r"(\d+) of \1 passed", c.strip()) for c in counts[:2]), counts
            stages = status.locator(".stages li").all_inner_texts()
            assert self.not_reloaded(page)
            self.snap(page, "run-passed")
            run = Run.objects.get(version__artifact__owner=learner)
            assert (run.status, run.verdict, run.grader, run.sandboxed) == (
                "succeeded",
                "passed",
                "kv_calculator",
                True,
            )
            assert sum(int(c.split()[0]) for c in counts[:2]) == 22, counts
            # The page lists the stages in words; underneath, the learner's step ran before the truth.
            attempt = run.current_attempt
            assert stages == attempt.timeline_words(), stages
            raw = attempt.timeline()
            assert raw[0] == "received" and raw[-1] == "finished", raw
            assert raw.index("learner ok") < raw.index("truth started"), raw

            # Join the team from the invitation link a lead sent.
            page.goto(reverse("teams:invite-accept", args=[self.team.slug, self.invite_token]))
            self.snap(page, "invitation")
            page.click("button:has-text('Join Inference')")
            expect(page.locator(".message-success")).to_have_text("Welcome to Inference.")
            assert self.team.role_of(learner) == Membership.Role.MEMBER

            # Request sign-off from layer 7's page: pin the version (in place), tick, explain, submit.
            page.goto(self.layer.get_absolute_url())
            page.click("#gate-actions button:has-text('Request sign-off')")
            expect(page.locator(".gate-status-line .pill")).to_have_text("Draft")
            page.evaluate("window.notReloaded = true")
            page.locator(".pin-row button:has-text('Pin')").click()
            evidence = page.locator("#request-evidence .evidence-item")
            expect(evidence).to_have_count(1)
            expect(evidence.locator(".run-line")).to_contain_text("verdict passed")
            expect(page.locator("#request-evidence .requirement.is-ok")).to_have_count(1)
            assert self.not_reloaded(page)
            ticks = page.locator("input[name=ticks]")
            expect(ticks).to_have_count(len(self.gate.criteria))
            for box in ticks.all():
                box.check()
            page.fill(
                "textarea[name=explanation]",
                f"My calculator (run #{run.pk}) passes all 22 cases, hidden ones included, against caches "
                "measured on real prefills; it reads KV heads, not query heads.",
            )
            self.snap(page, "gate-request-draft")
            page.click("button:has-text('Save draft')")
            expect(page.locator(".message-success")).to_have_text("Saved your explanation and ticks.")
            expect(page.locator("form[data-warn-unsaved] .message-warning")).to_have_count(0)  # her team has a reviewer
            page.click("form[data-warn-unsaved] button:has-text('Submit')")
            expect(page.locator(".status-banner")).to_contain_text("Submitted.")
            self.snap(page, "gate-request-submitted")

            request = GateRequest.objects.get(learner=learner)
            assert (request.status, request.gate_id) == ("submitted", self.gate.pk)
            assert [(e.version_id, e.run_id) for e in request.evidence.all()] == [(run.version_id, run.pk)]
            assert all(item["ticked"] for item in request.checklist)
            assert list(AuditEvent.objects.filter(request_id=request.pk).values_list("action", flat=True)) == [
                "created",
                "submitted",
            ]
            assert Notification.objects.filter(user=self.reviewer, url__contains=str(request.pk)).exists()
            statuses = dict(TopicProgress.objects.filter(user=learner).values_list("topic__slug", "status"))
            assert statuses == {
                "kv-cache-sizing": "done",
                "kv-cache-architecture-variants": "done",
                "kv-memory-budget": "learning",
                "paged-attention": "learning",
            }
            assert SelfAssessment.objects.get(user=learner, layer=self.layer).level == 2
            assert self.errors == []

    def test_a_reviewer_approves_from_the_inbox_and_the_learner_sees_verified_level_3(self):
        from playwright.sync_api import expect

        # Where the learner's journey ends, made through the models; the run is real all the same.
        learner = create_user(username="lena", display_name="Lena Learner", password=PASSWORD)
        self.team.add_member(learner, Membership.Role.MEMBER)
        artifact = create_artifact(owner=learner, spec=self.gate.required_artifacts.get(), title="KV Cache Calculator")
        new = artifact.add_version(inspect_file("kv_calculator.py", CORRECT_CALCULATOR.read_bytes()), by=learner)
        assert new.run is not None, new.run_refused
        run = self.finished(new.run, timeout=RUN_TIMEOUT_S)
        assert (run.status, run.verdict) == ("succeeded", "passed"), run.message
        create_assessment(user=learner, layer=self.layer, level=2, justification="I size caches by hand.")
        request = create_gate_request(
            learner=learner,
            gate=self.gate,
            versions=(new.version,),
            explanation=f"Run #{run.pk} passes all 22 cases against caches measured on real prefills.",
            submit=True,
        )

        with self.screenshots_on_failure():
            page = self.new_page()
            self.log_in(page, "rita")

            # The inbox: oldest first, the teammate's layer 5 request, then Lena's layer 7.
            page.click(".nav-links a:has-text('Reviews')")
            rows = page.locator("table.inbox tbody tr")
            expect(rows).to_have_count(2)
            expect(rows.nth(0)).to_contain_text("Otto Other")
            expect(rows.nth(0)).to_contain_text("Layer 5: Inference Fundamentals")
            expect(rows.nth(1)).to_contain_text("Lena Learner")
            expect(rows.nth(1)).to_contain_text("Layer 7: KV Cache and Long Context")
            expect(rows.nth(1)).to_contain_text("1 of 1 verified")
            self.snap(page, "inbox")

            # The review page: the pinned version, its run's verdict and the environment it ran in.
            rows.nth(1).locator("a").click()
            expect(page.locator("h1")).to_have_text("Lena Learner: KV Cache and Long Context")
            expect(page.locator(".gate-status-line .level-self")).to_have_text("2")
            evidence = page.locator(".evidence-item")
            expect(evidence).to_have_count(1)
            expect(evidence.locator(".run-line")).to_contain_text(f"Run #{run.pk}")
            expect(evidence.locator(".run-line")).to_contain_text("verdict passed")
            evidence.locator("details summary").click()
            environment = evidence.locator("details .kv-grid")
            expect(environment).to_contain_text(run.environment["torch"])
            expect(environment).to_contain_text("bubblewrap")
            self.snap(page, "review")

            # Every criterion met, a comment, approve.
            marks = page.locator("#decision input[type=radio][value=met]")
            expect(marks).to_have_count(len(self.gate.criteria))
            for radio in marks.all():
                radio.check()
            page.fill("#decision textarea[name=comment]", "Matches the measured caches; the GQA case is right.")
            page.check("#decision input[name=decision][value=approve]")
            self.snap(page, "review-marked")
            page.click("button:has-text('Record decision')")
            expect(page.locator(".message-success")).to_have_text("Approved. Lena Learner has been notified.")
            expect(page.locator(".gate-status-line .pill").first).to_have_text("Approved")
            history = page.locator(".events")
            expect(history).to_contain_text("Submitted · Lena Learner")
            expect(history).to_contain_text("Approved · Rita Reviewer")
            self.snap(page, "approved")
            page.click(".nav-links a:has-text('Reviews')")
            expect(page.locator("table.inbox tbody tr")).to_have_count(1)  # the teammate's still waits

            # The learner: verified level 3 beside her self-rating, on the dashboard and the layer page.
            page = self.new_page()
            self.log_in(page, "lena")
            page.click(".nav-links a:has-text('Dashboard')")
            row = page.locator(f"table.layer-table tr:has(th a[href='{self.layer.get_absolute_url()}'])")
            expect(row.locator(".level-self")).to_have_text("2")
            expect(row.locator(".level-verified")).to_have_text("3")
            expect(row.locator(".verified-by")).to_contain_text("verified by Rita Reviewer")
            self.snap(page, "dashboard")
            row.locator("th a").click()
            expect(page.locator("#self-rating .level-self")).to_have_text("2")
            expect(page.locator("#self-rating .level-verified")).to_have_text("3")
            expect(page.locator("#gate-actions")).to_contain_text("Signed off by Rita Reviewer")
            self.snap(page, "layer-7-verified")

        assert self.gate.level.number == 3
        request.refresh_from_db()
        assert (request.status, request.reviewer) == ("approved", self.reviewer)
        actions = list(AuditEvent.objects.filter(request_id=request.pk).values_list("action", flat=True))
        assert actions == ["created", "submitted", "review_started", "approved"]
        assert self.errors == []
