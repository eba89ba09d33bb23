from __future__ import annotations

from unittest import mock

from django.test import TestCase
from django.urls import reverse

from portfolio.models import Run
from portfolio.runner import protocol
from tests.factories import create_run, create_user


def finish(run: Run, **rest) -> None:
    attempt = run.current_attempt
    defaults = {"outcome": "completed", "verdict": "passed", "message": "the script reported ok", "score": 1.0}
    run.record_result(
        attempt.pk,
        protocol.build_result(attempt_id=attempt.pk, run_id=run.pk, **(defaults | rest)),
    )


class RunPageTests(TestCase):
    def test_an_active_run_polls_for_its_status(self):
        run = create_run()
        self.client.force_login(run.version.artifact.owner)
        response = self.client.get(run.get_absolute_url())
        assert response.status_code == 200
        assert b'hx-trigger="every 2s"' in response.content and b"Cancel run" in response.content

    def test_a_running_run_names_its_current_step_not_the_word_step(self):
        run = create_run()
        run.current_attempt.record_progress({"stage": "grading", "seq": 1})
        run.current_attempt.record_progress({"stage": "step", "step": "learner", "status": "started", "seq": 2})
        self.client.force_login(run.version.artifact.owner)
        fragment = self.client.get(run.get_absolute_url(), headers={"HX-Request": "true"}).content.decode()
        # In words (issue 14), not the runner's stage name "learner started".
        assert '<span class="muted">starting your code in the sandbox…</span>' in fragment
        assert "step…" not in fragment and "learner started" not in fragment

    def test_the_fragment_is_served_by_the_same_url_and_stops_polling_when_finished(self):
        run = create_run()
        self.client.force_login(run.version.artifact.owner)
        fragment = self.client.get(run.get_absolute_url(), headers={"HX-Request": "true"})
        assert fragment.content.lstrip().startswith(b'<section id="run-status"')
        assert b"every 2s" in fragment.content and b"<html" not in fragment.content
        finish(run)
        fragment = self.client.get(run.get_absolute_url(), headers={"HX-Request": "true"})
        assert b"hx-trigger" not in fragment.content
        assert b"Succeeded" in fragment.content and b"the script reported ok" in fragment.content

    def test_a_finished_run_shows_tests_metrics_environment_and_log(self):
        run = create_run()
        tests = [
            protocol.make_test("visible case", "passed", expected=1024, observed=1024, rel_error=0.0),
            protocol.make_test(
                "secret case",
                "failed",
                visibility="hidden",
                expected=77777,
                observed=1,
                rel_error=0.5,
                message="secret detail",
            ),
        ]
        finish(
            run,
            verdict="wrong",
            tests=tests,
            metrics={"kv_bytes": 1024},
            environment={"device": "cpu", "torch": "2.9.0+cpu"},
            log_tail="last line of the log",
        )
        self.client.force_login(run.version.artifact.owner)
        content = self.client.get(run.get_absolute_url()).content
        for needle in (b"visible case", b"1024", b"kv_bytes", b"2.9.0+cpu", b"last line of the log", b"hidden case"):
            assert needle in content, needle
        assert b"77777" not in content and b"secret detail" not in content
        assert b"Run again" in content

    def test_an_unsandboxed_run_says_so_loudly(self):
        run = create_run()
        finish(run, sandboxed=False)
        self.client.force_login(run.version.artifact.owner)
        assert b"UNSANDBOXED" in self.client.get(run.get_absolute_url()).content
        assert b"UNSANDBOXED" in self.client.get(run.version.artifact.get_absolute_url()).content

    def test_another_user_gets_404(self):
        run = create_run()
        self.client.force_login(create_user())
        assert self.client.get(run.get_absolute_url()).status_code == 404
        assert self.client.get(run.get_absolute_url(), headers={"HX-Request": "true"}).status_code == 404


class RunActionTests(TestCase):
    def test_the_owner_cancels_a_run(self):
        run = create_run()
        self.client.force_login(run.version.artifact.owner)
        with mock.patch("portfolio.models.runs.current_app"):
            response = self.client.post(reverse("portfolio:run-cancel", args=[run.pk]))
        run.refresh_from_db()
        assert response.status_code == 302 and run.status == Run.Status.CANCELLED

    def test_the_owner_runs_it_again(self):
        run = create_run()
        finish(run, verdict="failed", score=0.0)
        self.client.force_login(run.version.artifact.owner)
        response = self.client.post(reverse("portfolio:run-rerun", args=[run.pk]))
        again = Run.objects.exclude(pk=run.pk).get()
        assert response["Location"] == again.get_absolute_url() and again.status == Run.Status.QUEUED

    def test_rerunning_an_active_run_explains_why_not(self):
        run = create_run()
        self.client.force_login(run.version.artifact.owner)
        response = self.client.post(reverse("portfolio:run-rerun", args=[run.pk]), follow=True)
        assert b"has not finished yet" in response.content and Run.objects.count() == 1

    def test_another_user_cannot_cancel_or_rerun(self):
        run = create_run()
        self.client.force_login(create_user())
        assert self.client.post(reverse("portfolio:run-cancel", args=[run.pk])).status_code == 404
        assert self.client.post(reverse("portfolio:run-rerun", args=[run.pk])).status_code == 404
        run.refresh_from_db()
        assert run.status == Run.Status.QUEUED

    def test_actions_need_post(self):
        run = create_run()
        self.client.force_login(run.version.artifact.owner)
        assert self.client.get(reverse("portfolio:run-cancel", args=[run.pk])).status_code == 405
