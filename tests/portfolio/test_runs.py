"""Run and attempt transitions: conditional updates, retries, caps, late and duplicate results."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

from django.db import IntegrityError, transaction
from django.test import TestCase, override_settings
from django.utils import timezone

from portfolio.models import Run, RunAttempt, RunRefused, reap_stale_attempts
from portfolio.runner import protocol
from tests.factories import create_run, create_runnable_artifact, create_user, create_version


def result_for(attempt: RunAttempt, outcome: str = "completed", verdict: str = "passed", **rest: Any) -> dict:
    return protocol.build_result(
        attempt_id=attempt.pk,
        run_id=attempt.run_id,
        outcome=outcome,
        verdict=verdict,
        message=rest.pop("message", f"{outcome}/{verdict}"),
        score=rest.pop("score", 1.0),
        max_score=1.0,
        environment={"hostname": "runner-1", "device": "cpu"},
        **rest,
    )


class RunCreationTests(TestCase):
    def test_a_run_starts_queued_with_its_first_attempt_and_pinned_grader(self):
        with override_settings(RUNNER_GRADERS={"kv_calculator": ("script", "7")}):
            run = create_run()
        assert run.status == Run.Status.QUEUED
        assert (run.grader, run.grader_version) == ("script", "7")
        assert run.current_attempt.number == 1
        assert run.current_attempt.status == RunAttempt.Status.QUEUED
        assert run.limits["wall_s"] > 0

    def test_the_attempt_is_sent_to_the_runner_only_on_commit(self):
        with mock.patch("portfolio.models.runs.current_app") as app:
            with self.captureOnCommitCallbacks(execute=False) as callbacks:
                run = create_run()
            app.send_task.assert_not_called()
            for callback in callbacks:
                callback()
        (name,), kwargs = app.send_task.call_args
        payload = kwargs["args"][0]
        assert name == "runner.execute" and kwargs["queue"] == "runner"
        assert kwargs["task_id"] == str(run.current_attempt.celery_task_id)
        assert payload["attempt_id"] == run.current_attempt.pk
        assert payload["submission"]["sha256"] == run.version.sha256
        protocol.validate_payload(payload)

    def test_a_learner_may_have_only_so_many_runs_waiting(self):
        owner = create_user()
        artifact = create_runnable_artifact(owner=owner)
        with override_settings(RUNNER_MAX_QUEUED_PER_USER=2):
            create_run(version=create_version(artifact=artifact))
            create_run(version=create_version(artifact=artifact))
            with self.assertRaises(RunRefused) as refused:
                create_run(version=create_version(artifact=artifact))
        assert "2 runs queued or running" in refused.exception.message

    def test_links_and_documents_are_not_run(self):
        link = create_version(artifact=create_runnable_artifact(), link="https://example.com/repo")
        with self.assertRaises(RunRefused):
            link.request_run(by=link.artifact.owner)
        document = create_version()
        with self.assertRaises(RunRefused):
            document.request_run(by=document.artifact.owner)

    def test_a_spec_kind_without_a_configured_grader_is_not_run(self):
        with override_settings(RUNNER_GRADERS={}), self.assertRaises(RunRefused) as refused:
            create_run()
        assert "No grader" in refused.exception.message

    def test_the_database_allows_one_active_attempt_per_run(self):
        run = create_run()
        with self.assertRaises(IntegrityError), transaction.atomic():
            RunAttempt.objects.create(run=run, number=2)


class ProgressTests(TestCase):
    def test_the_first_progress_report_marks_the_attempt_and_run_running(self):
        run = create_run()
        attempt = run.current_attempt
        assert attempt.record_progress({"stage": "received"})
        run.refresh_from_db()
        attempt.refresh_from_db()
        assert run.status == Run.Status.RUNNING and run.stage == "received" and run.started_at
        assert attempt.status == RunAttempt.Status.RUNNING and attempt.heartbeat_at
        attempt.record_progress({"stage": "grading", "grader": "script"})
        attempt.refresh_from_db()
        assert [s["stage"] for s in attempt.stages] == ["received", "grading"]
        assert attempt.stages[1]["detail"] == {"grader": "script"}

    def test_the_timeline_puts_stages_that_arrived_swapped_back_in_order(self):
        run = create_run()
        attempt = run.current_attempt
        for stage, detail in [
            ("environment", {}),
            ("received", {}),
            ("step", {"step": "main", "status": "ok"}),
            ("step", {"step": "main", "status": "started"}),
            ("grading", {}),
        ]:
            attempt.record_progress({"stage": stage, **detail})
        attempt.refresh_from_db()
        assert attempt.timeline() == ["received", "environment", "grading", "main started", "main ok"]

    def test_the_timeline_follows_the_runners_sequence_numbers(self):
        # As the KV grader reports (recorded from a real run): the truth step starts after the
        # learner's step is over, and its own progress reports say "started" too.
        run = create_run()
        attempt = run.current_attempt
        for seq, stage, detail in [
            (1, "received", {}),
            (2, "environment", {}),
            (4, "grading", {"grader": "kv_calculator"}),
            (3, "unpacked", {"files": 1}),
            (5, "kv", {"stage_detail": "calling the submission"}),
            (6, "step", {"step": "learner", "status": "started"}),
            (8, "call", {"done": 1, "total": 22, "step": "learner"}),
            (7, "call", {"status": "started", "total": 22, "step": "learner"}),
            (9, "step", {"step": "learner", "status": "ok"}),
            (10, "kv", {"stage_detail": "measuring the truth"}),
            (11, "step", {"step": "truth", "status": "started"}),
            (12, "measure", {"status": "started", "step": "truth"}),
            (13, "step", {"step": "truth", "status": "ok"}),
            (14, "finished", {"outcome": "completed", "verdict": "passed"}),
        ]:
            attempt.record_progress({"stage": stage, **detail, "seq": seq})
        attempt.refresh_from_db()
        assert attempt.timeline() == [
            "received",
            "environment",
            "unpacked",
            "grading",
            "kv",
            "learner started",
            "call",
            "learner ok",
            "kv",
            "truth started",
            "measure",
            "truth ok",
            "finished",
        ]

    def test_a_heartbeat_only_moves_the_heartbeat(self):
        run = create_run()
        attempt = run.current_attempt
        attempt.record_progress({"stage": "grading"})
        RunAttempt.objects.filter(pk=attempt.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
        attempt.record_progress({"stage": "grading", "heartbeat": True, "elapsed_s": 3})
        attempt.refresh_from_db()
        assert timezone.now() - attempt.heartbeat_at < timedelta(seconds=5)
        assert len(attempt.stages) == 1

    def test_progress_after_the_result_changes_nothing(self):
        run = create_run()
        attempt = run.current_attempt
        run.record_result(attempt.pk, result_for(attempt))
        assert not attempt.record_progress({"stage": "grading"})
        assert not attempt.record_progress({"stage": "grading", "heartbeat": True})
        run.refresh_from_db()
        assert run.status == Run.Status.SUCCEEDED and run.stage == "finished"


class ResultTests(TestCase):
    def test_a_passing_result_is_stored_on_the_run(self):
        run = create_run()
        attempt = run.current_attempt
        tests = [protocol.make_test("case", "passed", expected=1, observed=1, rel_error=0.0)]
        what = run.record_result(attempt.pk, result_for(attempt, tests=tests, metrics={"m": 1}, log_tail="hi"))
        assert what == "stored"
        assert run.status == Run.Status.SUCCEEDED
        assert run.verdict == "passed" and run.score == 1.0 and run.tests[0]["name"] == "case"
        assert run.metrics == {"m": 1} and run.log_tail == "hi" and run.sandboxed is True
        assert run.environment["hostname"] == "runner-1" and run.finished_at
        attempt.refresh_from_db()
        assert attempt.status == RunAttempt.Status.FINISHED and attempt.worker == "runner-1"

    def test_outcomes_map_to_run_statuses(self):
        cases = [
            ("completed", "failed", Run.Status.FAILED),
            ("completed", "wrong", Run.Status.FAILED),
            ("submission_failed", "crash", Run.Status.FAILED),
            ("submission_failed", "memory", Run.Status.FAILED),
            ("submission_failed", "output_limit", Run.Status.FAILED),
            ("timed_out", "timeout", Run.Status.TIMED_OUT),
        ]
        for outcome, verdict, status in cases:
            run = create_run(by=create_user())
            run.record_result(run.current_attempt.pk, result_for(run.current_attempt, outcome, verdict))
            assert (run.status, run.verdict) == (status, verdict), (outcome, verdict)
            assert run.attempts.count() == 1, "the submission's failures are never retried"

    def test_a_duplicate_result_is_discarded(self):
        run = create_run()
        attempt = run.current_attempt
        assert run.record_result(attempt.pk, result_for(attempt)) == "stored"
        late = result_for(attempt, "completed", "failed", score=0.0)
        assert run.record_result(attempt.pk, late) == "discarded"
        run.refresh_from_db()
        assert run.verdict == "passed" and run.score == 1.0

    def test_a_system_error_starts_the_next_attempt(self):
        with mock.patch("portfolio.models.runs.current_app") as app, self.captureOnCommitCallbacks(execute=True):
            run = create_run()
            first = run.current_attempt
            what = run.record_result(first.pk, result_for(first, "system_error", "sandbox_error"))
        assert what == "retried"
        first.refresh_from_db()
        assert first.status == RunAttempt.Status.ERROR
        assert run.status == Run.Status.QUEUED and run.current_attempt.number == 2
        assert "Retrying as attempt 2" in run.message
        sent = [c.kwargs["args"][0]["attempt"] for c in app.send_task.call_args_list]
        assert sent == [1, 2]

    def test_a_late_result_from_a_replaced_attempt_is_discarded(self):
        run = create_run()
        first = run.current_attempt
        run.record_result(first.pk, result_for(first, "system_error", "error"))
        assert run.record_result(first.pk, result_for(first)) == "discarded"
        run.refresh_from_db()
        assert run.status == Run.Status.QUEUED and run.verdict == ""

    def test_system_errors_end_the_run_after_three_attempts(self):
        run = create_run()
        for number in (1, 2, 3):
            attempt = run.current_attempt
            assert attempt.number == number
            run.record_result(attempt.pk, result_for(attempt, "system_error", "sandbox_error", message="bwrap broke"))
        assert run.status == Run.Status.ERROR and run.finished_at
        assert "Gave up after 3 attempts" in run.message
        assert run.attempts.count() == 3

    def test_a_malformed_result_counts_as_our_error(self):
        run = create_run()
        attempt = run.current_attempt
        assert run.record_result(attempt.pk, {"attempt_id": attempt.pk, "outcome": "great"}) == "retried"
        attempt.refresh_from_db()
        assert attempt.status == RunAttempt.Status.ERROR and "malformed" in attempt.message

    def test_a_result_naming_another_attempt_is_not_trusted(self):
        run = create_run()
        attempt = run.current_attempt
        wrong = result_for(attempt) | {"attempt_id": attempt.pk + 100}
        assert run.record_result(attempt.pk, wrong) == "retried"


class CancelAndRerunTests(TestCase):
    def test_cancel_stops_an_active_run_and_its_late_result_is_discarded(self):
        with mock.patch("portfolio.models.runs.current_app") as app, self.captureOnCommitCallbacks(execute=True):
            run = create_run()
            attempt = run.current_attempt
            assert run.cancel(by=run.version.artifact.owner)
        app.control.revoke.assert_called_once_with(str(attempt.celery_task_id))
        assert run.status == Run.Status.CANCELLED and run.finished_at
        assert run.record_result(attempt.pk, result_for(attempt)) == "discarded"
        attempt.refresh_from_db()
        assert attempt.status == RunAttempt.Status.CANCELLED

    def test_a_finished_run_cannot_be_cancelled(self):
        run = create_run()
        run.record_result(run.current_attempt.pk, result_for(run.current_attempt))
        assert not run.cancel(by=run.version.artifact.owner)
        assert run.status == Run.Status.SUCCEEDED

    def test_rerun_makes_a_new_run_of_the_same_version(self):
        run = create_run()
        run.record_result(run.current_attempt.pk, result_for(run.current_attempt, "completed", "failed"))
        again = run.rerun(by=run.version.artifact.owner)
        assert again.pk != run.pk and again.version == run.version and again.status == Run.Status.QUEUED

    def test_an_active_run_is_not_rerun(self):
        run = create_run()
        with self.assertRaises(RunRefused):
            run.rerun(by=run.version.artifact.owner)


@override_settings(RUNNER_HEARTBEAT_TIMEOUT_S=60)
class ReaperTests(TestCase):
    def stale(self, attempt: RunAttempt, seconds: int = 120) -> None:
        attempt.record_progress({"stage": "grading"})
        RunAttempt.objects.filter(pk=attempt.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=seconds))

    def test_an_attempt_with_a_recent_heartbeat_is_left_alone(self):
        run = create_run()
        run.current_attempt.record_progress({"stage": "grading"})
        assert reap_stale_attempts() == []

    def test_a_queued_attempt_is_not_reaped(self):
        create_run()
        assert reap_stale_attempts() == []

    def test_a_silent_attempt_is_lost_and_retried(self):
        run = create_run()
        first = run.current_attempt
        self.stale(first)
        assert reap_stale_attempts() == [(first.pk, "retried")]
        first.refresh_from_db()
        run.refresh_from_db()
        assert first.status == RunAttempt.Status.LOST
        assert run.status == Run.Status.QUEUED and run.current_attempt.number == 2
        assert "was lost" in run.message

    def test_after_three_lost_attempts_the_run_is_lost(self):
        run = create_run()
        for _ in range(3):
            run.refresh_from_db()
            self.stale(run.current_attempt)
            reap_stale_attempts()
        run.refresh_from_db()
        assert run.status == Run.Status.LOST and run.finished_at
        assert list(run.attempts.values_list("status", flat=True)) == ["lost"] * 3

    def test_the_result_of_a_reaped_attempt_is_discarded(self):
        run = create_run()
        first = run.current_attempt
        self.stale(first)
        reap_stale_attempts()
        assert run.record_result(first.pk, result_for(first)) == "discarded"

    def test_reaping_twice_changes_nothing_more(self):
        run = create_run()
        first = run.current_attempt
        self.stale(first)
        reap_stale_attempts()
        assert run.record_lost(first.pk) == "discarded"
        assert run.attempts.count() == 2
