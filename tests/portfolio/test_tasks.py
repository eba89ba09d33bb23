"""The Django worker's tasks: thin, by name, routed in settings, safe to run twice."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.test import SimpleTestCase, TestCase
from django.utils import timezone

from config.celery import app
from portfolio import tasks
from portfolio.models import Run, RunAttempt
from portfolio.runner import celery_app as runner_celery
from portfolio.runner import protocol
from tests.factories import create_run


class TaskTests(TestCase):
    def test_tasks_are_registered_by_the_names_the_runner_sends(self):
        app.loader.import_default_modules()
        for name in (protocol.TASK_RECORD_PROGRESS, protocol.TASK_RECORD_RESULT, "portfolio.reap_stale_attempts"):
            assert name in app.tasks
            assert app.amqp.router.route({}, name)["queue"].name == "default"
        assert app.amqp.router.route({}, protocol.TASK_EXECUTE)["queue"].name == "runner"

    def test_recording_the_same_result_twice_is_harmless(self):
        run = create_run()
        attempt = run.current_attempt
        result = protocol.build_result(
            attempt_id=attempt.pk, run_id=run.pk, outcome="completed", verdict="passed", message="ok", score=1.0
        )
        tasks.record_progress(attempt.pk, {"stage": "received"})
        tasks.record_result(attempt.pk, result)
        tasks.record_result(attempt.pk, result)
        run.refresh_from_db()
        assert run.status == Run.Status.SUCCEEDED and run.attempts.count() == 1

    def test_messages_about_unknown_attempts_are_dropped(self):
        tasks.record_progress(999999, {"stage": "received"})
        tasks.record_result(999999, {"attempt_id": 999999})

    def test_the_reaper_task_retries_silent_attempts(self):
        run = create_run()
        attempt = run.current_attempt
        attempt.record_progress({"stage": "grading"})
        stale = timezone.now() - timedelta(seconds=settings.RUNNER_HEARTBEAT_TIMEOUT_S + 1)
        RunAttempt.objects.filter(pk=attempt.pk).update(heartbeat_at=stale)
        tasks.reap_stale_attempts_task()
        run.refresh_from_db()
        assert run.current_attempt.number == 2


class SettingsTests(SimpleTestCase):
    def test_the_reaper_runs_periodically(self):
        entry = settings.CELERY_BEAT_SCHEDULE["reap-stale-attempts"]
        assert entry["task"] == "portfolio.reap_stale_attempts"
        assert entry["schedule"] < settings.RUNNER_HEARTBEAT_TIMEOUT_S

    def test_a_redis_visibility_timeout_would_outlast_the_runners_longest_job(self):
        runner = runner_celery.settings_from_env({"CELERY_BROKER_URL": "redis://localhost:6379/0"})
        assert runner["task_time_limit"] <= settings.RUNNER_HARD_LIMIT_S
        assert runner["broker_transport_options"]["visibility_timeout"] == int(1.1 * settings.RUNNER_HARD_LIMIT_S)
        assert settings.RUNNER_LIMITS["wall_s"] <= protocol.MAX_WALL_S

    def test_attempts_are_capped_where_the_protocol_caps_them(self):
        assert settings.RUNNER_MAX_ATTEMPTS == protocol.MAX_ATTEMPTS == 3

    def test_celery_acks_late_and_prefetches_one(self):
        assert settings.CELERY_TASK_ACKS_LATE and settings.CELERY_TASK_REJECT_ON_WORKER_LOST
        assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
        assert settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT
