"""Pages issue a bounded number of queries that does not grow with the data (DESIGN targets)."""

from __future__ import annotations

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portfolio.models import Artifact
from portfolio.runner import protocol
from tests.factories import create_artifact_spec, create_run, create_user, create_version


def grow(owner, artifact: Artifact, versions: int) -> None:
    for _ in range(versions):
        run = create_run(version=create_version(artifact=artifact), by=owner)
        attempt = run.current_attempt
        attempt.record_progress({"stage": "received"})
        run.record_result(
            attempt.pk,
            protocol.build_result(
                attempt_id=attempt.pk,
                run_id=run.pk,
                outcome="completed",
                verdict="passed",
                message="ok",
                environment={"hostname": "h"},
            ),
        )


class QueryCountTests(TestCase):
    def setUp(self) -> None:
        self.owner = create_user()
        self.client.force_login(self.owner)
        self.artifact = Artifact.objects.create(
            owner=self.owner, spec=create_artifact_spec(kind="kv_calculator"), title="KV"
        )

    def count(self, url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert self.client.get(url).status_code == 200
        return len(captured)

    def test_artifact_pages_do_not_grow_with_versions_and_runs(self):
        urls = [reverse("portfolio:artifact-list"), self.artifact.get_absolute_url()]
        grow(self.owner, self.artifact, 2)
        small = [self.count(url) for url in urls]
        grow(self.owner, self.artifact, 6)
        assert [self.count(url) for url in urls] == small

    def test_the_run_page_does_not_grow_with_tests(self):
        grow(self.owner, self.artifact, 1)
        run = self.artifact.versions.get().runs.get()
        small = self.count(run.get_absolute_url())
        run.tests = [protocol.make_test(f"case {i}", "passed") for i in range(50)]
        type(run).objects.filter(pk=run.pk).update(tests=run.tests)
        assert self.count(run.get_absolute_url()) == small
