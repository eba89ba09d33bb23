"""Tasks of the Django worker (queue "default", routed in settings). Each takes ids, loads rows and
calls one model method; the methods' conditional updates make every task safe to run twice.

The runner's `runner.execute` is not here: it lives in portfolio/runner/celery_app.py, on the
runner host, and is sent by name (RunAttempt.send).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from portfolio.models import RunAttempt, reap_stale_attempts, redispatch_attempts
from portfolio.runner import protocol

log = logging.getLogger(__name__)


@shared_task(name=protocol.TASK_RECORD_PROGRESS)
def record_progress(attempt_id: int, data: dict[str, Any]) -> None:
    attempt = RunAttempt.objects.filter(pk=attempt_id).first()
    if attempt is None or not isinstance(data, dict):
        log.warning("progress for unknown attempt %s dropped", attempt_id)
        return
    attempt.record_progress(data)


@shared_task(name=protocol.TASK_RECORD_RESULT)
def record_result(attempt_id: int, result: dict[str, Any]) -> None:
    attempt = RunAttempt.objects.select_related("run").filter(pk=attempt_id).first()
    if attempt is None:
        log.warning("result for unknown attempt %s dropped", attempt_id)
        return
    what = attempt.run.record_result(attempt_id, result)
    log.info("attempt %s result %s (%s)", attempt_id, what, result.get("verdict") if isinstance(result, dict) else "?")


@shared_task(name="portfolio.reap_stale_attempts")
def reap_stale_attempts_task() -> None:
    for attempt_id, what in reap_stale_attempts():
        log.warning("attempt %s stopped sending heartbeats: %s", attempt_id, what)
    for attempt_id, what in redispatch_attempts():
        log.warning("attempt %s had not reached the runner queue: %s", attempt_id, what)
