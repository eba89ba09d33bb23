from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from portfolio.runner import protocol
from portfolio.runner.protocol import Limits, PayloadError, ResultError


def good_payload(**overrides: Any) -> dict[str, Any]:
    payload = protocol.make_payload(
        attempt_id=34,
        run_id=12,
        attempt=1,
        grader="kv_calculator",
        grader_version="1",
        filename="kv_calculator.py",
        data=b"print(1)\n",
        params={"cases": [1, 2]},
        limits={"wall_s": 60},
    )
    payload.update(overrides)
    return payload


def error_for(payload: object) -> PayloadError:
    with pytest.raises(PayloadError) as caught:
        protocol.validate_payload(payload)
    return caught.value


def test_a_payload_round_trips_through_json():
    payload = json.loads(json.dumps(good_payload()))

    parsed = protocol.validate_payload(payload)

    assert parsed.attempt_id == 34 and parsed.run_id == 12 and parsed.attempt == 1
    assert parsed.submission.data == b"print(1)\n"
    assert parsed.submission.sha256 == protocol.content_sha256(b"print(1)\n")
    assert parsed.params == {"cases": [1, 2]}
    assert parsed.limits == Limits(wall_s=60)


def test_missing_limits_take_the_defaults():
    payload = good_payload()
    del payload["limits"]

    assert protocol.validate_payload(payload).limits == Limits()


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"attempt_id": None}, "attempt_id", "integer"),
        ({"attempt_id": True}, "attempt_id", "integer"),
        ({"attempt_id": 0}, "attempt_id", "at least 1"),
        ({"attempt": 4}, "attempt", "between 1 and 3"),
        ({"grader": ""}, "grader", "non-empty"),
        ({"grader_version": 1}, "grader_version", "string"),
        ({"params": []}, "params", "JSON object"),
        ({"surprise": 1}, "surprise", "not a known field"),
        ({"limits": {"wall_s": 0}}, "limits.wall_s", "between 1 and 1800"),
        ({"limits": {"wall_s": 99_999}}, "limits.wall_s", "between 1 and 1800"),
        ({"limits": {"memory_mb": "4096"}}, "limits.memory_mb", "integer"),
        ({"limits": {"wall": 10}}, "limits.wall", "not a known field"),
        ({"limits": []}, "limits", "JSON object"),
    ],
)
def test_each_bad_field_is_named(change: dict[str, Any], field: str, words: str):
    error = error_for(good_payload(**change))

    assert error.field == field
    assert words in str(error)
    assert repr(field) in str(error)


def test_a_missing_field_is_named():
    payload = good_payload()
    del payload["run_id"]

    assert error_for(payload).field == "run_id"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"filename": "../x.py"}, "submission.filename"),
        ({"filename": ""}, "submission.filename"),
        ({"content_b64": "not base64!"}, "submission.content_b64"),
        ({"content_b64": None}, "submission.content_b64"),
        ({"sha256": "ABC"}, "submission.sha256"),
        ({"extra": 1}, "submission.extra"),
    ],
)
def test_bad_submission_fields_are_named(change: dict[str, Any], field: str):
    payload = good_payload()
    payload["submission"] = {**payload["submission"], **change}

    assert error_for(payload).field == field


def test_a_payload_that_is_not_an_object_is_refused():
    assert error_for(["not", "a", "dict"]).field == "payload"


def test_an_oversized_submission_is_refused_before_decoding():
    payload = good_payload()
    payload["submission"] = dict(payload["submission"], content_b64="A" * (protocol.MAX_SUBMISSION_BYTES * 2))

    assert "larger than" in str(error_for(payload))


def test_make_payload_refuses_what_validate_would_refuse():
    with pytest.raises(PayloadError, match="limits.processes"):
        protocol.make_payload(
            attempt_id=1,
            run_id=1,
            attempt=1,
            grader="script",
            grader_version="1",
            filename="main.py",
            data=b"",
            limits={"processes": 1},
        )


def test_make_payload_encodes_the_exact_bytes():
    data = bytes(range(256))

    payload = good_payload()
    payload["submission"] = protocol.make_payload(
        attempt_id=1, run_id=1, attempt=1, grader="g", grader_version="1", filename="f.bin", data=data
    )["submission"]

    assert base64.b64decode(payload["submission"]["content_b64"]) == data
    assert payload["submission"]["sha256"] == protocol.content_sha256(data)


def test_limits_replace_keeps_the_bounds():
    assert Limits().replace(wall_s=10).wall_s == 10
    with pytest.raises(PayloadError, match="limits.wall_s"):
        Limits().replace(wall_s=10_000)


def test_results_are_built_for_each_outcome():
    common = {"attempt_id": 3, "run_id": 2}

    ok = protocol.completed(verdict="passed", message="all good", score=1.0, max_score=1.0, **common)
    crash = protocol.submission_failed(verdict="crash", message="exit 1", **common)
    slow = protocol.timed_out(message="wall clock", **common)
    ours = protocol.system_error(message="sandbox broke", verdict="sandbox_error", **common)

    assert [r["outcome"] for r in (ok, crash, slow, ours)] == [
        "completed",
        "submission_failed",
        "timed_out",
        "system_error",
    ]
    assert slow["verdict"] == "timeout"
    assert [protocol.is_retryable(r) for r in (ok, crash, slow, ours)] == [False, False, False, True]
    for result in (ok, crash, slow, ours):
        assert protocol.validate_result(json.loads(json.dumps(result))) == result


@pytest.mark.parametrize(
    ("outcome", "verdict"),
    [("completed", "crash"), ("timed_out", "passed"), ("system_error", "memory"), ("done", "passed")],
)
def test_a_verdict_its_outcome_does_not_allow_is_refused(outcome: str, verdict: str):
    with pytest.raises(ResultError):
        protocol.build_result(attempt_id=1, run_id=1, outcome=outcome, verdict=verdict, message="")


def test_validate_result_names_the_bad_field():
    result = protocol.completed(verdict="passed", message="ok", attempt_id=1, run_id=1)

    broken = copy.deepcopy(result)
    broken["score"] = "high"
    with pytest.raises(ResultError) as caught:
        protocol.validate_result(broken)
    assert caught.value.field == "score"

    broken = copy.deepcopy(result)
    broken["tests"] = [{"status": "maybe"}]
    with pytest.raises(ResultError) as caught:
        protocol.validate_result(broken)
    assert caught.value.field == "tests[0].status"


def test_messages_are_one_line_and_logs_keep_their_end():
    result = protocol.completed(
        verdict="failed",
        message="line one\nline two " + "x" * 1000,
        attempt_id=1,
        run_id=1,
        log_tail="a" * 20_000 + "END",
    )

    assert "\n" not in result["message"] and len(result["message"]) <= protocol.MESSAGE_MAX_CHARS
    assert len(result["log_tail"]) <= protocol.LOG_TAIL_MAX_CHARS
    assert result["log_tail"].endswith("END")
    assert result["log_tail"].startswith("[... ")


def test_make_test_checks_status_and_visibility():
    test = protocol.make_test("case 1", "passed", visibility="hidden", expected=1, observed=1, rel_error=0.0)

    assert test["visibility"] == "hidden" and test["rel_error"] == 0.0
    with pytest.raises(ResultError):
        protocol.make_test("case 1", "ok")
    assert protocol.make_test("x", "failed", rel_error=float("nan"))["rel_error"] is None


def test_task_names_and_queues_match_the_readme():
    assert protocol.TASK_EXECUTE == "runner.execute"
    assert protocol.TASK_RECORD_PROGRESS == "portfolio.record_progress"
    assert protocol.TASK_RECORD_RESULT == "portfolio.record_result"
    assert (protocol.QUEUE_RUNNER, protocol.QUEUE_DEFAULT) == ("runner", "default")
