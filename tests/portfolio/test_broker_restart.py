"""A Redis broker that restarts (killed, no persistence: every queued message is gone) or is down
while a learner uploads: runs still reach a final state, through real workers and the sandbox.

Beat is played by the test: it calls the reaper (stale heartbeats) and the redispatcher
(attempts whose message never reached a runner) on every poll, as the periodic task does.
Needs redis-server (skipped without it, unless LAYERWISE_REQUIRE_SERVERS=1).
"""

from __future__ import annotations

import time
from typing import ClassVar

import pytest
from django.test import override_settings

from portfolio.models import Run, RunAttempt, reap_stale_attempts, redispatch_attempts
from tests.brokers import RedisServer, skip_unless
from tests.factories import OK_SCRIPT
from tests.portfolio.workers import HEARTBEAT_TIMEOUT_S, LIMITS, RealWorkersTestCase

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

SLOW_OK = b"import json, time\ntime.sleep(3)\nprint(json.dumps({'ok': True}))\n"


class Beat:
    """The periodic reaper, once a second (production: every 30 s, resending after 5 minutes)."""

    def __init__(self) -> None:
        self.last = 0.0

    def __call__(self) -> None:
        if time.monotonic() - self.last < 1.0:
            return
        self.last = time.monotonic()
        reap_stale_attempts(seconds=HEARTBEAT_TIMEOUT_S)
        redispatch_attempts(grace_s=1, unstarted_s=3)


@override_settings(RUNNER_LIMITS={**LIMITS, "wall_s": 60})
class BrokerRestartTests(RealWorkersTestCase):
    server: ClassVar[RedisServer]

    @classmethod
    def check_requirements(cls) -> None:
        skip_unless(RedisServer.available(), "redis-server is not installed")

    @classmethod
    def broker(cls) -> str:
        cls.server = RedisServer()
        cls.server.start()
        return cls.server.url

    @classmethod
    def _stop_all(cls) -> None:
        super()._stop_all()
        server = cls.__dict__.get("server")
        if server is not None:
            server.close()

    def setUp(self) -> None:
        if not self.server.answers():
            self.server.start()
        super().setUp()

    def all_finished(self, *runs: Run, timeout: float = 90) -> list[Run]:
        self.wait_for(
            "the runs to finish",
            lambda: not Run.objects.filter(pk__in=[r.pk for r in runs]).active().exists(),
            timeout=timeout,
            every=Beat(),
        )
        return [Run.objects.get(pk=r.pk) for r in runs]

    def test_a_restart_mid_run_ends_with_both_the_running_and_the_queued_run_done(self):
        running = self.submit(SLOW_OK)
        queued = self.submit(OK_SCRIPT)  # waits in Redis behind the running one (one runner process)
        self.running(running, 1)

        self.server.restart(down_for=1.0)

        running, queued = self.all_finished(running, queued)
        assert running.status == Run.Status.SUCCEEDED, running.message
        assert queued.status == Run.Status.SUCCEEDED, queued.message
        # The running job either finished (its result sent once Redis was back) or, cancelled by
        # the runner when its connection dropped, was reaped as lost and retried.
        statuses = list(running.attempts.values_list("status", flat=True))
        assert statuses[-1] == "finished" and set(statuses[:-1]) <= {"lost"}, statuses
        # The queued job's message died with Redis: the same attempt was sent again.
        assert queued.attempts.count() == 1
        assert RunAttempt.objects.get(pk=queued.current_attempt_id).dispatch_tries >= 2

    def test_an_upload_while_redis_is_down_runs_once_it_is_back(self):
        self.server.stop()
        run = self.submit(OK_SCRIPT)
        attempt = RunAttempt.objects.get(pk=run.current_attempt_id)
        assert attempt.dispatched_at is None and attempt.dispatch_error.startswith("OperationalError")

        self.server.start()

        [run] = self.all_finished(run)
        assert run.status == Run.Status.SUCCEEDED, run.message
        assert run.current_attempt.number == 1 and run.current_attempt.dispatch_tries >= 2
