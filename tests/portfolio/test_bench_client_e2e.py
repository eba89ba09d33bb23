"""Artifact 07's benchmark client through the real pipeline (tests/portfolio/workers.py): the
upload of bench_client.py goes to the bench_client grader, the runner worker runs it in its
sandbox against the reference server, and the Django worker files a passing result."""

from __future__ import annotations

import json
from functools import cached_property

import pytest
from django.test import override_settings

from portfolio.models import Artifact, Run
from portfolio.runner.benchclient import cases
from tests.factories import create_artifact_spec
from tests.portfolio.workers import LIMITS, REPO, RealWorkersTestCase

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

REFERENCE = REPO / "portfolio" / "runner" / "benchclient" / "reference_client.py"


@override_settings(
    RUNNER_LIMITS={**LIMITS, "wall_s": 180, "cpu_s": 120, "memory_mb": 2048, "processes": 256, "output_kb": 256}
)
class BenchClientThroughTheWorkersTests(RealWorkersTestCase):
    redis_db = 14

    @cached_property
    def artifact(self) -> Artifact:
        return Artifact.objects.create(
            owner=self.owner, spec=create_artifact_spec(kind="inference_benchmark"), title="My benchmark client"
        )

    def test_the_reference_client_passes_every_case_through_the_real_workers_and_the_sandbox(self):
        run = self.submit(REFERENCE.read_bytes(), "bench_client.py")
        assert (run.grader, run.grader_version) == ("bench_client", "1")
        run = self.finished(run, timeout=180)
        assert (run.status, run.verdict) == (Run.Status.SUCCEEDED, "passed"), json.dumps(
            [run.message, run.tests, run.metrics]
        )
        assert run.sandboxed is True and run.environment["sandbox"].startswith("bubblewrap")
        assert {t["name"] for t in run.tests} == {c["name"] for c in cases.all_cases()}
        assert all(t["status"] == "passed" for t in run.tests)
        self.client.force_login(self.owner)
        page = self.client.get(run.get_absolute_url())
        assert b"single_request" in page.content and b"concurrent_8" in page.content
