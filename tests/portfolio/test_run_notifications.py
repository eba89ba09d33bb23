"""The owner of an artifact hears once when a run of it ends: passed, or failed in any way."""

from __future__ import annotations

from datetime import timedelta

from django.test import TestCase, override_settings
from django.utils import timezone

from accounts.models import Notification
from portfolio.models import Run, RunAttempt, reap_stale_attempts
from portfolio.tasks import record_result
from tests.factories import create_run, create_user
from tests.portfolio.test_runs import result_for


def notifications_of(run: Run) -> list[Notification]:
    return list(Notification.objects.of(run.version.artifact.owner))


class RunNotificationTests(TestCase):
    def test_a_passing_run_notifies_its_owner_once_even_if_the_result_comes_twice(self):
        run = create_run()
        attempt = run.current_attempt

        record_result(attempt.pk, result_for(attempt))
        record_result(attempt.pk, result_for(attempt))

        [note] = notifications_of(run)
        assert note.kind == Notification.Kind.RUN_FINISHED
        assert note.title == f"Run #{run.pk} of {run.version.artifact.title} passed"
        assert note.url == run.get_absolute_url()

    def test_a_failing_run_notifies_once_even_if_a_different_late_result_follows(self):
        run = create_run()
        attempt = run.current_attempt

        record_result(attempt.pk, result_for(attempt, "completed", "failed", score=0.0))
        record_result(attempt.pk, result_for(attempt))

        [note] = notifications_of(run)
        assert note.kind == Notification.Kind.RUN_FAILED and note.title.endswith("failed")

    def test_a_timeout_is_a_failure(self):
        run = create_run()

        record_result(run.current_attempt.pk, result_for(run.current_attempt, "timed_out", "timeout"))

        [note] = notifications_of(run)
        assert note.kind == Notification.Kind.RUN_FAILED and "timed out" in note.title

    def test_retried_system_errors_notify_only_when_the_run_gives_up(self):
        run = create_run()
        for number in (1, 2, 3):
            run.refresh_from_db()
            attempt = run.current_attempt
            record_result(attempt.pk, result_for(attempt, "system_error", "sandbox_error"))
            assert len(notifications_of(run)) == (1 if number == 3 else 0)
        record_result(attempt.pk, result_for(attempt, "system_error", "sandbox_error"))

        [note] = notifications_of(run)
        assert note.kind == Notification.Kind.RUN_FAILED and "our fault" in note.title

    @override_settings(RUNNER_HEARTBEAT_TIMEOUT_S=60)
    def test_a_run_lost_after_its_last_attempt_notifies_once(self):
        run = create_run()
        for _ in range(3):
            run.refresh_from_db()
            attempt = run.current_attempt
            attempt.record_progress({"stage": "grading"})
            RunAttempt.objects.filter(pk=attempt.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
            reap_stale_attempts()
        reap_stale_attempts()

        [note] = notifications_of(run)
        assert note.kind == Notification.Kind.RUN_FAILED and "lost" in note.title

    def test_a_cancelled_run_tells_nobody(self):
        run = create_run()
        run.cancel(by=run.version.artifact.owner)

        record_result(run.current_attempt.pk, result_for(run.current_attempt))

        assert notifications_of(run) == []

    def test_only_the_owner_is_notified(self):
        run = create_run(by=create_user())

        record_result(run.current_attempt.pk, result_for(run.current_attempt))

        assert Notification.objects.count() == 1
        assert Notification.objects.get().user == run.version.artifact.owner
