from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("layerwise")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The apps never import this module: they send with celery.current_app (RunAttempt.send,
# Notification.notify) and declare tasks with shared_task. Celery makes an app current only in the
# thread that created it; as the default it is also what every other thread gets (gunicorn's
# gthread workers, the test server's thread), instead of an unconfigured fallback app.
app.set_default()


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def _json_logs(logger: logging.Logger, **_: Any) -> None:
    """Celery installs its own log handlers in the worker and beat; with LOG_FORMAT=json they write
    the same JSON lines as the web processes (with the task's name and id inside a task)."""
    from django.conf import settings

    if settings.LOG_FORMAT == "json":
        from portfolio.runner.jsonlog import use_json

        use_json(logger)
