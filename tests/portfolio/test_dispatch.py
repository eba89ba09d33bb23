"""Handing attempts to the runner queue when the broker refuses: the failure is recorded, the
upload still succeeds, and the reaper sends the attempt again once the broker is back; an attempt
that can never be sent ends as our error, and the run after its last attempt."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import redis
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase, override_settings
from django.utils import timezone

from portfolio import tasks
from portfolio.models import Run, RunAttempt, redispatch_attempts
from portfolio.runner import protocol
from tests.brokers import RedisServer, filesystem_options, free_port, skip_unless, use_broker
from tests.config.helpers import load_settings
from tests.factories import OK_SCRIPT, create_run, create_runnable_artifact, create_version
from tests.portfolio.helpers import IsolatedMediaMixin


def age(attempt: RunAttempt, seconds: int = 3600) -> None:
    """Make an attempt look created `seconds` ago (past the reaper's grace period)."""
    RunAttempt.objects.filter(pk=attempt.pk).update(created_at=timezone.now() - timedelta(seconds=seconds))


class FilesystemBrokerDownTests(IsolatedMediaMixin, TestCase):
    """The embedded broker "refuses" when its folder is missing (a volume not mounted yet)."""

    def setUp(self) -> None:
        super().setUp()
        self.folder = Path(tempfile.mkdtemp(prefix="layerwise-dispatch-"))
        self.addCleanup(shutil.rmtree, self.folder, True)
        broker = use_broker("filesystem://", filesystem_options(self.folder))
        broker.__enter__()
        self.addCleanup(broker.__exit__, None, None, None)

    def messages(self) -> list[dict[str, object]]:
        out = self.folder / "out"
        return [json.loads(p.read_text()) for p in sorted(out.glob("*.msg"))] if out.exists() else []

    def test_an_upload_is_kept_and_its_run_queued_when_the_broker_refuses(self):
        artifact = create_runnable_artifact()
        self.client.force_login(artifact.owner)
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(
                f"/artifacts/{artifact.pk}/versions/new/", {"file": SimpleUploadedFile("main.py", OK_SCRIPT)}
            )

        run = Run.objects.get()
        assert response.status_code == 302 and response["Location"] == run.get_absolute_url()
        attempt = run.current_attempt
        attempt.refresh_from_db()
        assert run.status == Run.Status.QUEUED and attempt.status == RunAttempt.Status.QUEUED
        assert attempt.dispatched_at is None and attempt.dispatch_tries == 1
        assert attempt.dispatch_error.startswith("FileNotFoundError")

    def test_the_reaper_sends_it_again_once_the_broker_is_back(self):
        with self.captureOnCommitCallbacks(execute=True):
            run = create_run()
        attempt = run.current_attempt
        age(attempt)
        assert redispatch_attempts() == [(attempt.pk, "failed")]

        for name in ("out", "processed", "control"):
            (self.folder / name).mkdir()
        assert redispatch_attempts() == [(attempt.pk, "sent")]

        attempt.refresh_from_db()
        assert attempt.dispatched_at is not None and attempt.dispatch_error == "" and attempt.dispatch_tries == 3
        [message] = self.messages()
        headers = message["headers"]
        assert headers["id"] == str(attempt.celery_task_id) and headers["task"] == protocol.TASK_EXECUTE
        # Sent once: the next reap leaves it alone, however long it waits for a runner.
        assert redispatch_attempts() == []
        assert len(self.messages()) == 1

    def test_a_fresh_attempt_is_left_to_the_send_on_commit(self):
        for name in ("out", "processed", "control"):
            (self.folder / name).mkdir()
        run = create_run()  # TestCase never runs on-commit callbacks: as if the send were in flight
        assert redispatch_attempts() == []
        age(run.current_attempt)
        assert redispatch_attempts() == [(run.current_attempt.pk, "sent")]

    @override_settings(RUNNER_MAX_DISPATCH_TRIES=2)
    def test_an_attempt_that_can_never_be_sent_fails_over_and_the_run_ends_error(self):
        with self.captureOnCommitCallbacks(execute=True):
            run = create_run()
        outcomes = []
        for _ in range(10):
            for attempt in RunAttempt.objects.filter(run=run):
                age(attempt)
            with self.captureOnCommitCallbacks(execute=True):
                outcomes += [what for _, what in redispatch_attempts()]
            run.refresh_from_db()
            if not run.is_active:
                break

        assert outcomes == ["failed", "retried", "failed", "retried", "failed", "ended"]
        assert run.status == Run.Status.ERROR and run.finished_at is not None
        assert "could not be handed to the runner queue (FileNotFoundError, 2 tries)" in run.message
        assert "Gave up after 3 attempts" in run.message
        attempts = list(run.attempts.values_list("status", "dispatch_tries", "verdict"))
        assert attempts == [("error", 2, "error")] * 3

    def test_a_cancelled_run_is_not_sent_again(self):
        with self.captureOnCommitCallbacks(execute=True):
            run = create_run()
        age(run.current_attempt)
        run.cancel(by=run.version.artifact.owner)
        for name in ("out", "processed", "control"):
            (self.folder / name).mkdir()
        assert redispatch_attempts() == []
        assert self.messages() == []

    def test_a_version_whose_file_is_gone_is_recorded_as_a_failed_send(self):
        for name in ("out", "processed", "control"):
            (self.folder / name).mkdir()
        version = create_version(artifact=create_runnable_artifact())
        default_storage.delete(version.file.name)
        with self.captureOnCommitCallbacks(execute=True):
            run = version.request_run(by=version.artifact.owner)
        attempt = RunAttempt.objects.get(pk=run.current_attempt_id)
        assert attempt.dispatched_at is None and "FileNotFoundError" in attempt.dispatch_error
        assert self.messages() == []

    def test_a_message_lost_on_the_broker_is_sent_again_once_the_runner_queue_is_empty(self):
        for name in ("out", "processed", "control"):
            (self.folder / name).mkdir()
        with self.captureOnCommitCallbacks(execute=True):
            waiting, lost = create_run(), create_run()
        for run in (waiting, lost):
            RunAttempt.objects.filter(pk=run.current_attempt_id).update(
                dispatched_at=timezone.now() - timedelta(hours=1)
            )
        assert len(self.messages()) == 2
        # Messages still wait in the queue: no runner has had them yet, nothing to send again.
        assert redispatch_attempts(unstarted_s=60) == []

        for path in (self.folder / "out").glob("*.msg"):  # the broker lost them (a restart)
            path.unlink()
        RunAttempt.objects.filter(pk=waiting.current_attempt_id).update(dispatched_at=timezone.now())

        assert redispatch_attempts(unstarted_s=60) == [(lost.current_attempt_id, "sent")]
        [message] = self.messages()
        assert message["headers"]["id"] == str(RunAttempt.objects.get(pk=lost.current_attempt_id).celery_task_id)

    @override_settings(RUNNER_MAX_DISPATCH_TRIES=2)
    def test_a_message_lost_every_time_ends_the_attempt_with_that_reason(self):
        for name in ("out", "processed", "control"):
            (self.folder / name).mkdir()
        with self.captureOnCommitCallbacks(execute=True):
            run = create_run()
        outcomes = []
        for _ in range(2):
            for path in (self.folder / "out").glob("*.msg"):
                path.unlink()
            RunAttempt.objects.filter(run=run).update(dispatched_at=timezone.now() - timedelta(hours=1))
            outcomes += [what for _, what in redispatch_attempts(unstarted_s=60)]
        run.refresh_from_db()
        assert outcomes == ["sent", "retried"]
        assert "Attempt 1 could not be handed to the runner queue (its message was lost on the broker, 2 tries)" in (
            run.message
        )
        assert run.status == Run.Status.QUEUED and run.current_attempt.number == 2

    def test_the_periodic_reaper_task_also_sends_again(self):
        with self.captureOnCommitCallbacks(execute=True):
            run = create_run()
        age(run.current_attempt)
        for name in ("out", "processed", "control"):
            (self.folder / name).mkdir()
        tasks.reap_stale_attempts_task()
        assert RunAttempt.objects.get(pk=run.current_attempt_id).dispatched_at is not None
        assert len(self.messages()) == 1


class RedisBrokerDownTests(TestCase):
    """A Redis broker that refuses connections (nothing listens on its port), then comes back."""

    def setUp(self) -> None:
        skip_unless(RedisServer.available(), "redis-server is not installed")
        self.server = RedisServer(port=free_port())
        self.addCleanup(self.server.close)
        broker = use_broker(self.server.url, {"visibility_timeout": 3600})
        broker.__enter__()
        self.addCleanup(broker.__exit__, None, None, None)

    def test_a_refused_send_is_recorded_and_sent_again_when_redis_is_back(self):
        with self.captureOnCommitCallbacks(execute=True):
            run = create_run()
        attempt = RunAttempt.objects.get(pk=run.current_attempt_id)
        assert attempt.dispatched_at is None and attempt.dispatch_tries == 1
        assert attempt.dispatch_error.startswith("OperationalError")

        self.server.start()
        age(attempt)
        assert redispatch_attempts() == [(attempt.pk, "sent")]

        queued = redis.Redis.from_url(self.server.url).lrange(protocol.QUEUE_RUNNER, 0, -1)
        assert len(queued) == 1
        assert json.loads(queued[0])["headers"]["id"] == str(attempt.celery_task_id)


class HungBrokerTests(TestCase):
    """A broker that accepts the connection and never answers (a failover in progress, a NAT that
    dropped the connection): the send on commit gives up within the socket timeout instead of
    holding the upload's request for ever."""

    def test_a_send_to_a_broker_that_never_answers_gives_up_within_seconds(self):
        silent = socket.create_server(("127.0.0.1", 0))  # the kernel accepts; nobody ever reads
        self.addCleanup(silent.close)
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        with use_broker(url, load_settings(CELERY_BROKER_URL=url).CELERY_BROKER_TRANSPORT_OPTIONS):
            started = time.monotonic()
            with self.captureOnCommitCallbacks(execute=True):
                run = create_run()
            elapsed = time.monotonic() - started
        attempt = RunAttempt.objects.get(pk=run.current_attempt_id)
        assert attempt.dispatched_at is None and "Timeout" in attempt.dispatch_error
        assert elapsed < 20, f"the send held the request for {elapsed:.1f} s"
