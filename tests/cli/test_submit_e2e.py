"""`layerwise submit 09 kv_calculator.py --wait` end to end: the client as a subprocess, the live
test server, the real Django and runner workers (tests/portfolio/workers.py) and the real KV cache
calculator grader in the bubblewrap sandbox, on the shipped roadmaps. A correct calculator exits 0
and a wrong one (no sliding windows) 1, each with its case table; the wrong one is submitted with
--json. Two sandboxed runs in all (each costs 15 to 25 s of CPU), so one test asserts everything
about them."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.test import LiveServerTestCase, override_settings

from portfolio.models import Artifact, Run
from roadmap.content import load
from tests.assessments.gates import FlushableAuditMixin
from tests.cli.support import layerwise
from tests.factories import create_token, create_user
from tests.portfolio.workers import REPO, RealWorkersTestCase

pytestmark = [pytest.mark.slow, pytest.mark.sandbox, pytest.mark.runner_env]

SUBMISSIONS = REPO / "tests/runner/kv/submissions"
KV_LIMITS = {"wall_s": 180, "cpu_s": 300, "memory_mb": 4096, "processes": 64, "file_mb": 64, "output_kb": 256}
WAIT_S = 240


@override_settings(RUNNER_GRADERS={"kv_calculator": ("kv_calculator", "2")}, RUNNER_LIMITS=KV_LIMITS)
class SubmitAndWaitTests(FlushableAuditMixin, RealWorkersTestCase, LiveServerTestCase):
    redis_db = 13

    def setUp(self) -> None:
        super().setUp()
        load(settings.CONTENT_DIR)
        self.user = create_user(username="grace")
        _, self.token = create_token(user=self.user)
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        self.tmp = Path(folder.name)

    def calculator(self, name: str) -> Path:
        """The suite's submission `name`, saved as kv_calculator.py (the name the spec asks for)."""
        path = self.tmp / name / "kv_calculator.py"
        path.parent.mkdir()
        shutil.copy(SUBMISSIONS / f"{name}.py", path)
        return path

    def cli(self, *args: str, token: str | None = None):  # type: ignore[no-untyped-def]
        return layerwise(
            *args,
            url=self.live_server_url,
            token=token or self.token,
            config_home=self.tmp / "config",
            cwd=self.tmp,
            timeout=WAIT_S + 60,
        )

    def test_a_correct_calculator_exits_0_and_a_wrong_one_1_with_their_case_tables(self) -> None:
        passed = self.cli("submit", "09", str(self.calculator("correct")), "--wait", "--timeout", str(WAIT_S))
        assert passed.code == 0, f"{passed}\n{self.runner_worker.tail()}"
        keep = os.environ.get("TEST_ARTIFACTS")
        if keep:  # what a learner sees, kept for reading (bin/run-tests sets TEST_ARTIFACTS)
            (Path(keep) / "cli-submit-correct.txt").write_text(
                f"$ layerwise submit 09 kv_calculator.py --wait\n{passed.err}{passed.out}(exit {passed.code})\n"
            )
        artifact = Artifact.objects.get(owner=self.user)
        assert artifact.spec is not None and artifact.spec.code == "09"
        good = Run.objects.get(version__artifact=artifact)
        assert good.status == Run.Status.SUCCEEDED and good.sandboxed is True
        assert f"created artifact {artifact.pk}" in passed.err
        # The live progress went to stderr, one line per change, in the run page's words.
        progress = [line for line in passed.err.splitlines() if line.startswith(f"run {good.pk}: running - ")]
        assert progress, passed.err
        words = ("the runner has your file", "preparing the runner", "unpacking", "grading", "calling your calculator")
        assert any(w in line for line in progress for w in words + ("measuring the truth", "starting")), progress
        assert passed.out.startswith(f"Run {good.pk}: succeeded (passed, score 1 of 1)")
        total = len(good.tests)
        assert f"{total} of {total} cases passed" in passed.out
        header = next(line for line in passed.out.splitlines() if line.startswith("case"))
        assert header.split() == ["case", "status", "visibility", "expected", "observed", "rel", "error", "message"]
        for test in good.tests:  # one row per case, hidden ones without their values
            row = next(line for line in passed.out.splitlines() if line.startswith(test["name"] + " "))
            assert row.split()[1] == "passed"
            if test["visibility"] == "hidden":
                assert row.split()[3:5] == ["hidden", "hidden"]
        assert "\x1b[" not in passed.out + passed.err  # no colours off a terminal

        # The wrong calculator, to the same artifact (the newest for 09), with --json.
        failed = self.cli("submit", "09", str(self.calculator("no_sliding_window")), "--wait", "--json")
        assert failed.code == 1, f"{failed}\n{self.runner_worker.tail()}"
        body = failed.json()
        bad = Run.objects.exclude(pk=good.pk).get(version__artifact=artifact)
        assert body["run"]["id"] == bad.pk and body["run"]["status"] == "failed" == bad.status
        assert body["version"]["number"] == bad.version.number
        failing = [t["name"] for t in body["run"]["tests"] if t["status"] != "passed"]
        assert failing and failing == [t["name"] for t in bad.visible_tests() if t["status"] != "passed"]
        assert body["artifact"]["id"] == artifact.pk and body["artifact_created"] is False
        assert body["version"]["number"] == 2 and Artifact.objects.filter(owner=self.user).count() == 1

        listed = self.cli("runs", "--artifact", str(artifact.pk), "--json")
        assert [(r["id"], r["status"]) for r in listed.json()] == [(bad.pk, "failed"), (good.pk, "succeeded")]

        # `run ID` reads the same verdicts back, with the same exit codes.
        again = self.cli("run", str(bad.pk))
        assert again.code == 1 and f"Run {bad.pk}: failed" in again.out
        assert all(
            any(line.startswith(name + " ") and " failed " in line for line in again.out.splitlines())
            for name in failing
            if not name.startswith("hidden")
        )
        assert self.cli("run", str(good.pk), "--json").json()["verdict"] == "passed"
