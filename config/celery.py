from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("layerwise")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def _json_logs(logger: logging.Logger, **_: Any) -> None:
    """Celery installs its own log handlers in the worker and beat; with LOG_FORMAT=json they write
    the same JSON lines as the web processes (with the task's name and id inside a task)."""
    from django.conf import settings

    if settings.LOG_FORMAT == "json":
        from portfolio.runner.jsonlog import use_json

        use_json(logger)
