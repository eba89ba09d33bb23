"""End to end without the sandbox: harness_learner.py on the learner's module, harness_check.py
for the truth, grade.compare for the verdict, the way the grader chains them (runner env)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from portfolio.runner.tinytf import cases
from tests.runner.tinytf.helpers import SUBMISSIONS, failing, grade_submission, run_learner

pytestmark = pytest.mark.runner_env

ALL = cases.all_cases()


def test_the_correct_submission_passes_every_case(tmp_path: Path) -> None:
    result = grade_submission(tmp_path, "correct")
    assert failing(result) == set(), [t for t in result["tests"] if t["status"] != "passed"]
    assert result["verdict"] == "passed" and result["score"] == 1.0 and len(result["tests"]) == len(ALL)
    timing = result["timing"]
    print(
        f"\ntiny transformer suite, {len(ALL)} cases: learner {timing['learner']['wall_s']:.1f} s wall / "
        f"{timing['learner']['cpu_s']:.1f} s CPU, check {timing['check']['wall_s']:.1f} s wall / "
        f"{timing['check']['cpu_s']:.1f} s CPU",
        file=sys.stderr,
    )
    assert timing["learner"]["cpu_s"] + timing["check"]["cpu_s"] < 40


@pytest.mark.parametrize("mistake", cases.MISTAKES)
def test_each_typical_mistake_fails_exactly_its_cases(tmp_path: Path, mistake: str) -> None:
    assert (SUBMISSIONS / f"{mistake}.py").is_file()
    result = grade_submission(tmp_path, mistake)
    expected = {item["name"] for item in ALL if mistake in item["catches"]}
    assert expected, mistake
    assert failing(result) == expected
    assert all(t["status"] == "failed" for t in result["tests"] if t["name"] in expected)
    assert result["verdict"] == "failed"
    for test in result["tests"]:
        if test["status"] != "passed":
            assert test["details"]["hint"] == cases.hint(cases.CASES[[c["name"] for c in ALL].index(test["name"])])


def test_learner_errors_fail_only_their_own_case(tmp_path: Path) -> None:
    items = [i for i in ALL if i["check"] != "learning"]
    learner, _ = run_learner(tmp_path, {"tiny_transformer.py": SUBMISSIONS / "misbehaves.py",
                                        "correct.py": SUBMISSIONS / "correct.py"}, items, call_timeout_s=2)  # fmt: skip
    status = {name: r["status"] for name, r in learner["results"].items()}
    layernorm = {i["name"] for i in items if "config" in i and cases.CONFIGS[i["config"]]["norm"] == "layernorm"}
    sampling = {"greedy", "hidden-12", "hidden-13"}
    assert {n for n, s in status.items() if s == "error"} == layernorm - sampling | {"hidden-13"}
    assert {n for n, s in status.items() if s == "timeout"} == {"greedy", "hidden-12"}
    mqa_loaded = {"hidden-05", "hidden-08", "hidden-09", "hidden-11"}
    assert {n for n, s in status.items() if s == "layout"} == mqa_loaded
    assert "extra.weight is not in the layout" in learner["results"]["hidden-05"]["message"]
    assert "deliberate failure" in learner["results"]["hidden-01"]["message"]
    assert "must return a LongTensor" in learner["results"]["hidden-13"]["message"]
    assert status["hidden-03"] == "ok"  # counted, not loaded: the count is what fails
    assert status["top-p-crossing"] == status["blocks"] == "ok"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"tiny_transformer.py": "def build(:\n"}, "importing tiny_transformer.py failed: SyntaxError"),
        ({"tiny_transformer.py": "import time\ntime.sleep(60)\n"}, "importing tiny_transformer.py took longer"),
    ],
)
def test_a_module_that_cannot_be_imported_fails_every_case(tmp_path: Path, files: dict, message: str) -> None:
    learner, timing = run_learner(tmp_path, files, ALL[:3], import_timeout_s=1)
    assert learner["import"]["message"].startswith(message)
    assert {r["status"] for r in learner["results"].values()} == {"no_import"}
    assert timing["wall_s"] < 20


def test_a_module_without_sample_is_graded_missing_on_sampling_cases(tmp_path: Path) -> None:
    source = "from correct import build\n"
    learner, _ = run_learner(tmp_path, {"tiny_transformer.py": source, "correct.py": SUBMISSIONS / "correct.py"},
                             [i for i in ALL if i["name"] in ("shapes", "greedy")])  # fmt: skip
    assert learner["results"]["shapes"]["status"] == "ok"
    assert learner["results"]["greedy"]["status"] == "missing"


def test_a_helper_module_named_like_the_harness_helper_is_the_learners(tmp_path: Path) -> None:
    files = {"tiny_transformer.py": "from common import build, sample\n", "common.py": SUBMISSIONS / "correct.py"}
    learner, _ = run_learner(tmp_path, files, [i for i in ALL if i["name"] in ("shapes", "greedy")])
    assert {name: r["status"] for name, r in learner["results"].items()} == {"shapes": "ok", "greedy": "ok"}


def test_no_module_in_the_submission(tmp_path: Path) -> None:
    learner, _ = run_learner(tmp_path, {"notes.txt": "hi", "a.py": "", "b.py": ""}, ALL[:1])
    assert learner["status"] == "no_module" and "tiny_transformer.py" in learner["message"]
