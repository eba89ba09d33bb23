"""One JSON object per log line, for log collectors (LOG_FORMAT=json).

Standard library only, so the runner (no Django) and the web app (settings.LOGGING, config/celery.py) share it.
Every line has `time` (UTC, ISO 8601, milliseconds), `level`, `logger` and `message`; plus
`request_id` when a filter put one on the record, the Celery `task` and `task_id` when the line
was logged inside a task, `exception` with the traceback, and whatever JSON-friendly `extra=`
fields the caller passed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else on a record came from `extra=` or a filter.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}

# gunicorn's access log passes its atoms as the record's args; these are the ones worth a field.
_ACCESS_ATOMS = {
    "m": "method",
    "U": "path",
    "q": "query",
    "s": "status",
    "B": "bytes",
    "M": "duration_ms",
    "h": "remote_addr",
    "{x-request-id}o": "request_id",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and _jsonable(value):
                entry.setdefault(key, value)
        if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
            for atom, field in _ACCESS_ATOMS.items():
                value = record.args.get(atom)
                if value not in (None, "-", ""):
                    entry.setdefault(field, _number(value) if field in ("status", "bytes", "duration_ms") else value)
        entry.update(_current_task())
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _jsonable(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool | list | dict)


def _number(value: object) -> object:
    try:
        return int(str(value))
    except ValueError:
        return value


def _current_task() -> dict[str, str]:
    """The Celery task being executed in this thread, if any (celery may not be installed)."""
    try:
        from celery._state import get_current_task
    except ImportError:  # pragma: no cover - both environments install celery
        return {}
    task = get_current_task()
    if task is None or task.request.id is None:
        return {}
    return {"task": task.name, "task_id": task.request.id}


def use_json(logger: logging.Logger) -> None:
    """Give every handler of `logger` the JSON formatter (for Celery's after_setup_logger signals)."""
    for handler in logger.handlers:
        handler.setFormatter(JsonFormatter())
