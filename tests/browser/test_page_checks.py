"""Issue 14, item 7: the main pages in Chromium at 390 px (a phone) and 1,280 px, light and dark. Each
page must not scroll sideways, must log no console error, and axe-core (the npm package pinned in
tests/browser/package.json, installed by `make test`) must find no serious or critical violation.

axe is added with Playwright's init script (the DevTools protocol's "evaluate on new document"),
which the page's Content-Security-Policy does not govern: no `bypass_csp`, so the pages are checked
under the CSP they are served with. One seeded set of data and one live server for the whole file,
one test that walks every page and width. Screenshots go to $TEST_ARTIFACTS/browser/pages/."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from accounts.models import Membership
from portfolio.runner import protocol
from roadmap.models import ArtifactSpec
from tests.assessments.gates import FlushableAuditMixin
from tests.browser.support import (
    AXE,
    OVERFLOW,
    SIZES,
    BrowserTestCase,
    check_axe,
    screenshot_folder,
)
from tests.factories import (
    create_artifact,
    create_artifact_spec,
    create_assessment,
    create_gate,
    create_gate_request,
    create_layer,
    create_level,
    create_progress,
    create_roadmap,
    create_run,
    create_team,
    create_topic,
    create_user,
    create_version,
    finish_run,
)
from tests.portfolio.recorded import finish_with
from tests.portfolio.test_benchmark_results import benchmark_run
from tests.portfolio.test_kv_results import categorised

pytestmark = pytest.mark.browser

# Impacts that fail the test; "moderate" and "minor" findings are printed, not failed.
BLOCKING = ("serious", "critical")
# Every rule in the light scheme; in the dark one only the colours can differ, so only contrast runs.
AXE_RUN = """axe.run(document, {resultTypes: ["violations"]%s}).then(result => result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.slice(0, 4).map(n => n.target.join(" ") + ": " + n.failureSummary.split("\\n").slice(1).join(" ")),
})))"""
AXE_RUNS = {"light": AXE_RUN % "", "dark": AXE_RUN % ', runOnly: ["color-contrast"]'}


class PageChecks(FlushableAuditMixin, BrowserTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        check_axe()
        super().setUpClass()

    def seed(self) -> dict[str, tuple[Any, str]]:
        """The pages to check: name -> (who looks, path)."""
        roadmap = create_roadmap(slug="llm-systems-engineering", title="LLM Systems Engineering")
        layers = [
            create_layer(roadmap=roadmap, number=n, slug=f"layer-{n}", title=f"Layer title {n}") for n in range(1, 13)
        ]
        first = create_topic(layer=layers[0], slug="tokenization", title="Tokenization", summary="Text to ids.")
        create_topic(layer=layers[6], slug="kv-cache", title="KV cache memory", prerequisites=(first,))
        learner = create_user(username="lena", display_name="Lena Learner")
        reviewer = create_user(username="rita", display_name="Rita Reviewer")
        lead = create_user(username="leo", display_name="Leo Lead")
        team = create_team(
            name="Inference",
            members={learner: Membership.Role.MEMBER, reviewer: Membership.Role.REVIEWER, lead: Membership.Role.LEAD},
        )
        create_progress(user=learner, topic=first, status="done", confidence=4)
        create_assessment(user=learner, layer=layers[0], level=2)
        kv_spec = create_artifact_spec(
            roadmap=roadmap, kind=ArtifactSpec.Kind.KV_CALCULATOR, code="09", title="KV Cache Calculator"
        )
        kv = create_artifact(owner=learner, spec=kv_spec, title="KV cache calculator for GQA and MLA")
        failing = create_version(
            artifact=kv, data=b"def kv_cache_bytes(*a):\n    return 1\n", filename="kv_calculator.py"
        )
        failing_run = categorised(finish_with(create_run(version=failing), "kv_cpu_result_no_window.json"))
        passing = create_version(artifact=kv)
        finish_run(create_run(version=passing))
        bench_spec = create_artifact_spec(
            roadmap=roadmap, kind=ArtifactSpec.Kind.INFERENCE_BENCHMARK, code="07", title="Inference Benchmark"
        )
        bench = create_artifact(owner=learner, spec=bench_spec, title="Serving benchmark")
        earlier = benchmark_run(artifact=bench, recorded="bench_cpu_open_loop.json")
        bench_run = benchmark_run(artifact=bench, recorded="bench_cpu_open_loop.json")
        reason = "float16 is not offered on a CPU runner (slow, partly emulated kernels); use float32 or bfloat16"
        refused = benchmark_run(
            artifact=bench,
            outcome=protocol.OUTCOME_SUBMISSION_FAILED,
            verdict=protocol.VERDICT_INVALID_SUBMISSION,
            score=None,
            message=f"this runner cannot hold the workload: {reason}",
            tests=[],
            metrics={"refusal": reason},
            raw={},
        )

        gate = create_gate(layer=layers[6], level=create_level(roadmap=roadmap, number=3), artifacts=(kv_spec,))
        approved = create_gate_request(learner=learner, gate=gate, versions=(passing,), submit=True)
        approved.reply(by=learner, body="I measured the **sliding window** case on a CPU.")
        approved.approve(by=reviewer, marks=["met", "met"])
        credential = approved.issue_credential(by=learner)
        layer_gate = create_gate(layer=layers[0], level=create_level(roadmap=roadmap, number=1), artifacts=(kv_spec,))
        pending = create_gate_request(learner=learner, gate=layer_gate, versions=(passing,), submit=True)
        pending.reply(by=reviewer, body="Link the run in your explanation, please.")
        return {
            "roadmap-panel": (learner, f"{roadmap.get_absolute_url()}?topic=kv-cache"),
            "layer": (learner, layers[6].get_absolute_url()),
            "topic": (learner, first.get_absolute_url()),
            "dashboard": (learner, f"{reverse('assessments:dashboard')}?roadmap={roadmap.slug}"),
            "artifact": (learner, kv.get_absolute_url()),
            "run-kv-failing": (learner, failing_run.get_absolute_url()),
            "run-benchmark": (learner, f"{bench_run.get_absolute_url()}?compare={earlier.pk}"),
            "run-benchmark-refused": (learner, refused.get_absolute_url()),
            "spec-07": (learner, bench_spec.get_absolute_url()),
            "results-upload": (learner, reverse("portfolio:results-create", args=[bench.pk])),
            "gate-request": (learner, pending.get_absolute_url()),
            "review": (reviewer, pending.get_review_url()),
            "team-matrix": (lead, reverse("teams:team-matrix", args=[team.slug])),
            "credential": (None, credential.get_absolute_url()),
            "credential-verifier": (None, f"/credentials/verify/?id={credential.pk}"),
        }

    def test_every_main_page_fits_logs_no_error_and_passes_axe(self):
        pages = self.seed()
        shots = screenshot_folder("pages")
        for name, (user, path) in pages.items():
            for size, viewport in SIZES.items():
                with self.subTest(page=name, size=size):
                    self.check(user, path, name, size, viewport, shots)

    def check(self, user, path, name, size, viewport, shots) -> None:
        for scheme in ("light", "dark"):
            self.errors.clear()
            page = self.page_as(user, viewport=viewport, color_scheme=scheme)
            page.context.add_init_script(path=str(AXE))
            response = page.goto(path)
            assert response is not None and response.status == 200, f"{name}: {response and response.status}"
            page.screenshot(path=shots / f"{name}-{size}-{scheme}.png", full_page=True)
            overflow = page.evaluate(OVERFLOW)
            assert overflow <= 0, f"{name} scrolls sideways by {overflow} px at {size} ({scheme})"
            violations = page.evaluate(AXE_RUNS[scheme])
            page.context.close()
            for v in violations:
                if v["impact"] not in BLOCKING:
                    print(f"axe ({v['impact']}) {name} {size} {scheme}: {v['id']}: {v['help']}")
            blocking = [v for v in violations if v["impact"] in BLOCKING]
            assert blocking == [], f"{name} at {size} ({scheme}): {blocking}"
            assert self.errors == [], self.errors
