"""JSON log lines (LOG_FORMAT=json), shared by the runner and the web app; no Django here."""

from __future__ import annotations

import io
import json
import logging

from celery import Celery

from portfolio.runner.jsonlog import JsonFormatter, use_json


def capture(name: str = "layerwise.test") -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger(name)
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    use_json(logger)
    return logger, stream


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_is_one_json_object_with_time_level_logger_and_message():
    logger, stream = capture()
    logger.warning("attempt %s lost", 7, extra={"attempt_id": 7, "not_json": object()})
    [entry] = lines(stream)
    assert entry["level"] == "WARNING" and entry["logger"] == "layerwise.test"
    assert entry["message"] == "attempt 7 lost" and entry["attempt_id"] == 7
    assert entry["time"].endswith("+00:00") and "T" in entry["time"]
    assert "not_json" not in entry and "args" not in entry and "exception" not in entry


def test_an_exception_and_a_multi_line_message_stay_on_one_line():
    logger, stream = capture()
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        logger.exception("it broke\nbadly")
    assert len(stream.getvalue().splitlines()) == 1
    [entry] = lines(stream)
    assert entry["message"] == "it broke\nbadly"
    assert entry["exception"].startswith("Traceback") and "ValueError: bad" in entry["exception"]


def test_a_line_logged_inside_a_celery_task_names_the_task():
    logger, stream = capture()
    app = Celery("jsonlog-test", set_as_current=False)

    @app.task(name="tests.log_something")
    def log_something() -> None:
        logger.info("inside")

    log_something.apply(task_id="task-1234")
    logger.info("outside")
    inside, outside = lines(stream)
    assert inside["task"] == "tests.log_something" and inside["task_id"] == "task-1234"
    assert "task_id" not in outside


def test_gunicorns_access_line_gets_fields():
    record = logging.LogRecord("gunicorn.access", logging.INFO, "", 0, "%(m)s %(U)s %(s)s", (), None)
    record.args = {
        "m": "GET",
        "U": "/readyz",
        "q": "",
        "s": "503",
        "B": "120",
        "M": "4",
        "h": "10.0.0.1",
        "{x-request-id}o": "abc123",
    }
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "GET /readyz 503"
    assert (entry["method"], entry["path"], entry["status"], entry["duration_ms"]) == ("GET", "/readyz", 503, 4)
    assert entry["request_id"] == "abc123" and "query" not in entry
