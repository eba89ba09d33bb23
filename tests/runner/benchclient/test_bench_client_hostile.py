"""Clients that attack the server or the limits: each fails its own case with the reason (or,
when it measured honestly after all, passes), and the server's truth and the run are intact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.runner.benchclient.helpers import by_name, grade, source

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

HOSTILE = Path(__file__).resolve().parent / "hostile"


def _with_honest(name: str) -> dict[str, str]:
    return {"bench_client.py": (HOSTILE / name).read_text(encoding="utf-8"), "honest.py": source("correct")}


@pytest.fixture(scope="module")
def snooped():
    return grade(_with_honest("snoop_signal.py"), cases=["single_request"])


def test_reading_or_signalling_the_server_is_refused(snooped):
    tail = by_name(snooped)["single_request"]["details"]["output_tail"]
    for label in (
        "read input",
        "read memory",
        "read environ",
        "list fds",
        "kill server",
        "stop server",
        "kill all",
        "kill group",
        "pidfd",
        "alter server",
    ):
        assert f"ATTEMPT {label}: refused" in tail, tail


def test_the_server_s_truth_survives_the_attempts(snooped):
    # The server answered every request afterwards and its record matches what an honest client
    # measured; the forged output.json was replaced by the harness's own.
    assert (snooped["outcome"], snooped["verdict"]) == ("completed", "passed"), json.dumps(snooped["tests"])[:2000]
    assert [t["name"] for t in snooped["tests"]] == ["single_request"]


def test_a_daemon_left_behind_is_killed_before_the_next_case():
    result = grade(_with_honest("daemon.py"), cases=["single_request", "short_prompt_long_output"])
    assert (result["outcome"], result["verdict"]) == ("completed", "passed"), json.dumps(result["tests"])[:2000]
    assert result["metrics"]["client_strays"][0] >= 1
    assert len(result["tests"]) == 2


def test_a_client_that_hangs_fails_each_case_and_not_the_run():
    result = grade(
        "import time\n\ndef run(base_url, workload):\n    time.sleep(3600)\n",
        cases=["single_request", "non_streaming"],
        case_wall_s=2,
    )
    assert result["outcome"] == "completed"
    for test in result["tests"]:
        assert test["status"] == "error"
        assert test["message"].startswith("too slow: the client ran past the case's wall clock of 2 s")


def test_a_client_that_floods_the_server_fails_with_the_cap():
    code = (
        "import json, urllib.request, urllib.error\n\n"
        "def run(base_url, workload):\n"
        "    refused = 0\n"
        "    for _ in range(60):\n"
        "        body = json.dumps({'prompt': 'x', 'max_tokens': 1}).encode()\n"
        "        try:\n"
        "            urllib.request.urlopen(base_url + '/v1/completions', body, timeout=5).read()\n"
        "        except urllib.error.HTTPError as exc:\n"
        "            refused += exc.code == 429\n"
        "    print('refused', refused)\n"
        "    return {'requests': [], 'summary': {}}\n"
    )
    result = grade(code, cases=["single_request"])
    test = by_name(result)["single_request"]
    assert test["status"] == "failed"
    assert "the server refused" in test["message"] and "at most 24 requests" in test["message"]
    assert "refused 36" in test["details"]["output_tail"]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (
            "import os\n\ndef run(base_url, workload):\n    os._exit(3)\n",
            "crashed: the client process ended (status 3)",
        ),
        (
            "def run(base_url, workload):\n    raise ValueError('no server')\n",
            "run() raised an exception: ValueError: no server",
        ),
        ("def run(base_url, workload):\n    return {'requests': ['x' * 1000] * 5000}\n", "result too large"),
        ("def run(base_url, workload):\n    return {1, 2}\n", "run() returned something that is not JSON"),
    ],
    ids=["exit", "raise", "huge", "not-json"],
)
def test_a_broken_client_fails_its_case_with_the_reason(code, message):
    result = grade(code, cases=["single_request"])
    assert result["outcome"] == "completed"
    test = by_name(result)["single_request"]
    assert test["status"] == "error"
    assert test["message"].startswith(message), test["message"]


def test_an_upload_without_bench_client_py_is_refused():
    result = grade({"client.py": "def run(base_url, workload):\n    return {}\n", "notes.txt": "hi"})
    assert result["verdict"] == "invalid_submission"
    assert "bench_client.py" in result["message"]
