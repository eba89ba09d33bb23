"""End to end without the sandbox: harness_call.py on learner calculators, harness_measure.py for the
truth, grade.compare for the verdict, the way the grader chains them (runner env)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from portfolio.runner.kv import cases, grade, harness_call
from tests.runner.kv.helpers import SUBMISSIONS, call_submission, measure_requests

pytestmark = pytest.mark.runner_env

ALL = cases.all_cases()
INPUTS = [cases.call_input(item) for item in ALL]
CALL_TIMEOUT_S = 1.0


def _grade(
    tmp_path: Path, truth: dict[str, Any], files: dict[str, str | Path]
) -> tuple[dict[str, Any], dict[str, Any]]:
    output, _ = call_submission(tmp_path, files, INPUTS, call_timeout_s=CALL_TIMEOUT_S)
    assert output["status"] == "ok", output
    return output, grade.compare(ALL, output["results"], truth["output"]["measurements"])


def _failing(result: dict[str, Any]) -> set[str]:
    return {test["name"] for test in result["tests"] if test["status"] != "passed"}


@pytest.mark.parametrize("name", ["correct", "window_not_minus_one"])
def test_a_correct_calculator_passes_every_case(tmp_path: Path, truth: dict[str, Any], name: str) -> None:
    output, result = _grade(tmp_path, truth, {"kv_calculator.py": SUBMISSIONS / f"{name}.py"})
    assert _failing(result) == set(), [t for t in result["tests"] if t["status"] != "passed"]
    assert result["verdict"] == "passed" and result["score"] == 1.0
    assert len(result["tests"]) == len(ALL)
    assert output["functions"] == {"kv_cache_bytes": True, "max_concurrency": True}


@pytest.mark.parametrize("mistake", cases.MISTAKES)
def test_each_typical_mistake_fails_exactly_its_cases(tmp_path: Path, truth: dict[str, Any], mistake: str) -> None:
    _, result = _grade(tmp_path, truth, {"kv_calculator.py": SUBMISSIONS / f"{mistake}.py"})
    expected_failures = {item["name"] for item in ALL if mistake in item["catches"]}
    assert expected_failures, mistake
    assert _failing(result) == expected_failures
    assert all(test["status"] == "failed" for test in result["tests"] if test["name"] in expected_failures)
    assert result["verdict"] == "failed"


def test_learner_errors_fail_only_their_own_case(tmp_path: Path, truth: dict[str, Any]) -> None:
    output, result = _grade(tmp_path, truth, {"kv_calculator.py": SUBMISSIONS / "misbehaves.py"})
    by_name = {test["name"]: test for test in result["tests"]}
    expected = {
        "llama-2-7b-1k-fp16": ("error", "raised an exception: ValueError: deliberate failure for the MHA case"),
        "falcon-7b-batch8-fp32": ("error", "wrong return type: returned a float (1.34218e+08)"),
        "gemma-2-9b-1k-bf16": ("error", "wrong return type: returned a str"),
        "llama-3.1-8b-concurrency-8k": ("error", "raised an exception: ZeroDivisionError"),
        "hidden-01": ("error", "unreasonably large value: returned an int of 333 bits"),
        "hidden-02": ("error", "raised an exception: called sys.exit(bye)"),
        "hidden-03": ("error", "wrong return type: returned None"),
        "hidden-07": ("error", "too slow: kv_cache_bytes() did not return within 1 s"),
        "hidden-09": ("error", "crashed: kv_cache_bytes() ended the process: the worker process exited with status 3"),
        "hidden-10": ("error", "wrong return type: returned a bool (True)"),
    }
    assert _failing(result) == set(expected)
    for name, (status, message) in expected.items():
        assert by_name[name]["status"] == status, name
        assert by_name[name]["message"].startswith(message), (name, by_name[name]["message"])
    # The case after the timeout and the one after os._exit ran in fresh workers and passed.
    assert by_name["hidden-08"]["status"] == by_name["hidden-11"]["status"] == "passed"
    # Printing five megabytes is allowed: the case passes and only a short tail is kept.
    printed = by_name["mistral-7b-2k-below-window-fp16"]
    assert printed["status"] == "passed"
    tail = output["results"]["mistral-7b-2k-below-window-fp16"]["output_tail"]
    assert tail.endswith("printed five megabytes\n") and len(tail) <= harness_call.OUTPUT_TAIL_CHARS
    assert len(json.dumps(output)) < 100_000
    # Hidden cases give away nothing but the verdict.
    assert by_name["hidden-07"]["expected"] is None and by_name["hidden-07"]["observed"] is None


def test_a_module_without_max_concurrency_is_graded_on_the_rest(tmp_path: Path, truth: dict[str, Any]) -> None:
    source = (SUBMISSIONS / "correct.py").read_text(encoding="utf-8")
    source = source.replace("def max_concurrency(", "def _unused(")
    _, result = _grade(tmp_path, truth, {"kv_calculator.py": source})
    concurrency = {item["name"] for item in ALL if item["function"] == cases.CONCURRENCY}
    assert set(result["metrics"]["skipped"]) == concurrency
    assert result["verdict"] == "passed" and len(result["tests"]) == len(ALL) - len(concurrency)


@pytest.mark.parametrize("helper_name", ["kv_helpers", "common"])  # common: the harness's own helper is named so
def test_a_zip_layout_with_a_helper_module(tmp_path: Path, truth: dict[str, Any], helper_name: str) -> None:
    helper = (SUBMISSIONS / "correct.py").read_text(encoding="utf-8")
    files: dict[str, str | Path] = {
        f"work/{helper_name}.py": helper,
        "work/kv_calculator.py": f"from {helper_name} import kv_cache_bytes, max_concurrency\n",
    }
    output, result = _grade(tmp_path, truth, files)
    assert output["module"] == "work/kv_calculator.py"
    assert result["verdict"] == "passed"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def kv_cache_bytes(:\n", "importing kv_calculator.py failed: SyntaxError"),
        ("raise RuntimeError('no')\n", "importing kv_calculator.py failed: RuntimeError: no"),
        ("import os\nos._exit(0)\n", "importing kv_calculator.py ended the process"),
        ("import time\ntime.sleep(60)\n", "importing kv_calculator.py took longer than 1 s"),
    ],
)
def test_a_module_that_cannot_be_imported_fails_every_case(tmp_path: Path, source: str, message: str) -> None:
    output, timing = call_submission(
        tmp_path, {"kv_calculator.py": source}, INPUTS, call_timeout_s=CALL_TIMEOUT_S, import_timeout_s=1.0
    )
    assert output["import"]["ok"] is False and output["import"]["message"].startswith(message)
    assert {result["status"] for result in output["results"].values()} == {"no_import"}
    assert timing["wall_s"] < 15  # one import attempt, not one per case


def test_a_module_without_kv_cache_bytes(tmp_path: Path) -> None:
    output, _ = call_submission(tmp_path, {"kv_calculator.py": "X = 1\n"}, INPUTS[:2])
    assert output["functions"] == {"kv_cache_bytes": False, "max_concurrency": False}
    assert {r["status"] for r in output["results"].values()} == {"missing"}
    assert "does not define kv_cache_bytes()" in output["results"][INPUTS[0]["name"]]["message"]


def test_no_calculator_in_the_submission(tmp_path: Path) -> None:
    output, _ = call_submission(tmp_path, {"notes.txt": "hello", "other.py": "x = 1\n"}, INPUTS[:1])
    assert output["status"] == "no_module" and "kv_calculator.py" in output["message"]


def test_numpy_integers_are_accepted_and_mutating_the_config_does_not_leak(tmp_path: Path) -> None:
    source = (
        "import numpy as np\n"
        "def kv_cache_bytes(config, batch_size, seq_len, dtype):\n"
        "    config['num_hidden_layers'] = 0  # a later case must still see the real config\n"
        "    config.setdefault('seen', 0)\n"
        "    return np.int64(seq_len + config['seen'])\n"
    )
    output, _ = call_submission(tmp_path, {"kv_calculator.py": source}, INPUTS[:3])
    values = [output["results"][item["name"]]["value"] for item in INPUTS[:3]]
    assert values == [item["seq_len"] for item in INPUTS[:3]]
    assert {r["status"] for r in output["results"].values()} == {"ok"}


def test_return_value_rule() -> None:
    classify = harness_call.classify_value
    assert classify(5) == {"status": "ok", "value": 5, "type": "int"}
    assert classify(2**200)["status"] == "ok" and classify(2**300)["status"] == "too_large"
    assert classify(-3)["value"] == -3  # accepted as an answer; the comparison fails it
    for value in (True, 1.0, 1e9, "5", None, [5], 5j):
        assert classify(value)["status"] == "wrong_type", value

    class Sneaky(int):
        def __index__(self) -> int:
            return 7

    assert classify(Sneaky(5))["value"] == 5


def test_suite_time_on_this_cpu(tmp_path: Path, truth: dict[str, Any]) -> None:
    """The whole suite as the grader runs it: every call of a correct calculator, then the truth
    step (hidden cases measured, public ones taken from the table when the versions match, one
    torch thread). Asserted on CPU seconds, which other load on a shared machine does not inflate;
    wall times are printed for the record (pytest -s), with the all-cases measurement of the
    `truth` fixture (default threads, nothing reused) for comparison."""
    _, call_timing = call_submission(tmp_path / "call", {"kv_calculator.py": SUBMISSIONS / "correct.py"}, INPUTS)
    output, measure_timing = measure_requests(
        cases.measurement_requests(ALL), tmp_path / "truth", reuse_public_table=True, threads=1
    )
    reused = sum(bool(value.get("reused")) for value in output["measurements"].values())
    assert reused == len(cases.measurement_requests(cases.public_cases()))
    total_cpu = call_timing["cpu_s"] + measure_timing["cpu_s"]
    cold = truth["timing"]
    print(
        f"\nKV suite, {len(ALL)} cases: calls {call_timing['wall_s']:.1f} s wall / {call_timing['cpu_s']:.1f} s CPU; "
        f"truth ({truth['requests'] - reused} measured, {reused} from the table) "
        f"{measure_timing['wall_s']:.1f} s wall / {measure_timing['cpu_s']:.1f} s CPU; "
        f"all {truth['requests']} measured: {cold['wall_s']:.1f} s wall / {cold['cpu_s']:.1f} s CPU",
        file=sys.stderr,
    )
    assert total_cpu < 30
    assert cold["cpu_s"] < 30
