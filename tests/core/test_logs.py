"""Request ids on responses and log lines; LOG_FORMAT=json for the web app's processes."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from django.test import SimpleTestCase, TestCase

from core.logs import RequestIdFilter
from portfolio.runner.jsonlog import JsonFormatter
from tests.factories import create_user

REPO = Path(__file__).resolve().parents[2]


class RequestIdTests(TestCase):
    def setUp(self) -> None:
        self.stream = io.StringIO()
        handler = logging.StreamHandler(self.stream)
        handler.addFilter(RequestIdFilter())
        handler.setFormatter(JsonFormatter())
        logger = logging.getLogger("django.request")
        logger.addHandler(handler)
        self.addCleanup(logger.removeHandler, handler)
        self.client.force_login(create_user())

    def logged(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]

    def test_the_proxys_request_id_is_kept_on_the_response_and_the_log_line(self):
        response = self.client.get("/artifacts/999999/", headers={"X-Request-ID": "edge-4f2a9c81"})
        assert response.status_code == 404 and response["X-Request-ID"] == "edge-4f2a9c81"
        [entry] = self.logged()
        assert entry["logger"] == "django.request" and entry["request_id"] == "edge-4f2a9c81"
        assert entry["message"].startswith("Not Found: /artifacts/999999/")

    def test_an_id_is_made_when_none_or_a_strange_one_comes(self):
        made = self.client.get("/artifacts/999998/")["X-Request-ID"]
        injected = self.client.get("/artifacts/999997/", headers={"X-Request-ID": "x\nFAKE LOG LINE"})
        assert len(made) == 32 and made != injected["X-Request-ID"]
        assert "\n" not in injected["X-Request-ID"] and len(injected["X-Request-ID"]) == 32
        assert [e["request_id"] for e in self.logged()] == [made, injected["X-Request-ID"]]

    def test_lines_outside_a_request_have_no_request_id(self):
        logging.getLogger("django.request").warning("between requests")
        assert "request_id" not in self.logged()[0]


class LogFormatTests(SimpleTestCase):
    def run_python(self, code: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", f"import django; django.setup(); {code}"],
            cwd=REPO,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1", **env},
            capture_output=True,
            text=True,
            timeout=60,
        )

    def test_log_format_json_writes_one_json_object_per_line_to_stdout(self):
        done = self.run_python(
            "import logging; logging.getLogger('portfolio.tasks').warning('attempt %s lost', 3)", LOG_FORMAT="json"
        )
        assert done.returncode == 0, done.stderr
        [entry] = [json.loads(line) for line in done.stdout.splitlines()]
        assert (entry["level"], entry["logger"], entry["message"]) == ("WARNING", "portfolio.tasks", "attempt 3 lost")
