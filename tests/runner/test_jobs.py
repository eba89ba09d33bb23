from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from portfolio.runner import graders, jobs, protocol
from portfolio.runner.graders.base import GradeContext, GradeReport
from portfolio.runner.graders.script import HARNESS as RUN_SCRIPT
from tests.runner.conftest import OK_PROGRAM, script_payload

pytestmark = [pytest.mark.sandbox, pytest.mark.runner_env]

PROBE = Path(graders.base.RUNNER_PACKAGE_DIR) / "harness" / "probe.py"


def zip_bytes(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buffer.getvalue()


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, stage: str, detail: dict[str, Any]) -> None:
        self.events.append((stage, detail))

    @property
    def stages(self) -> list[str]:
        return [stage for stage, _ in self.events]


def test_a_passing_script_completes_with_its_metrics_and_environment(work_root: Path):
    progress = Recorder()
    payload = script_payload(OK_PROGRAM, attempt_id=41)

    result = jobs.execute(payload, progress=progress)

    assert (result["outcome"], result["verdict"]) == ("completed", "passed")
    assert (result["attempt_id"], result["run_id"]) == (41, 41)
    assert (result["score"], result["max_score"]) == (1.0, 1.0)
    assert result["metrics"] == {"answer": 42}
    assert result["tests"][0]["status"] == "passed"
    assert result["sandboxed"] is True
    env = result["environment"]
    assert env["sandbox"].startswith("bubblewrap ")
    assert (env["grader"], env["grader_version"]) == ("script", "1")
    assert env["submission_sha256"] == payload["submission"]["sha256"]
    assert env["device_kind"] == "cpu" and env["device"] == "cpu"
    assert env["torch"] and env["transformers"] and env["python"].startswith("3.")
    assert "probe_error" not in env
    assert result["duration_s"] > 0
    assert progress.stages[:4] == ["received", "environment", "unpacked", "grading"]
    assert progress.stages[-1] == "finished"
    assert ("step", {"step": "main", "status": "started"}) in progress.events
    assert protocol.validate_result(json.loads(json.dumps(result))) == result
    assert list((work_root / "jobs").iterdir()) == []  # the job folder is removed


def test_a_script_reporting_not_ok_fails():
    result = jobs.execute(script_payload('print(\'{"ok": false, "why": "wrong answer"}\')'))

    assert (result["outcome"], result["verdict"]) == ("completed", "failed")
    assert result["score"] == 0.0
    assert result["metrics"] == {"why": "wrong answer"}


def test_a_script_without_a_json_last_line_fails():
    result = jobs.execute(script_payload("print('done!')"))

    assert (result["outcome"], result["verdict"]) == ("completed", "failed")
    assert "not a JSON object" in result["message"]


def test_a_crashing_script_is_the_submissions_failure_with_its_traceback():
    result = jobs.execute(script_payload("def f():\n    raise ValueError('boom')\nf()\n"))

    assert (result["outcome"], result["verdict"]) == ("submission_failed", "crash")
    assert "exited with status 1" in result["message"]
    assert "ValueError: boom" in result["log_tail"]
    assert not protocol.is_retryable(result)


def test_a_zip_runs_main_py_with_its_own_modules():
    data = zip_bytes(
        {
            "work/main.py": "import json, helper\nprint(json.dumps({'ok': helper.ok(), 'argv': __import__('sys').argv[1:]}))\n",
            "work/helper.py": "def ok():\n    return True\n",
        }
    )

    result = jobs.execute(script_payload(data, filename="work.zip", argv=["--fast"]))

    assert result["verdict"] == "passed", result["log_tail"]
    assert result["metrics"] == {"argv": ["--fast"]}


def test_a_zip_without_main_py_is_an_invalid_submission():
    result = jobs.execute(script_payload(zip_bytes({"a.py": "", "b.py": ""}), filename="work.zip"))

    assert (result["outcome"], result["verdict"]) == ("submission_failed", "invalid_submission")
    assert "main.py" in result["message"]


def test_an_unsafe_zip_is_an_invalid_submission_naming_the_entry():
    result = jobs.execute(script_payload(zip_bytes({"main.py": "", "../evil.py": ""}), filename="work.zip"))

    assert (result["outcome"], result["verdict"]) == ("submission_failed", "invalid_submission")
    assert "../evil.py" in result["message"]


def test_a_sha256_mismatch_is_a_system_error_and_nothing_runs(work_root: Path):
    payload = script_payload(OK_PROGRAM)
    payload["submission"]["sha256"] = "0" * 64
    progress = Recorder()

    result = jobs.execute(payload, progress=progress)

    assert (result["outcome"], result["verdict"]) == ("system_error", "error")
    assert "sha256" in result["message"] and "0" * 64 in result["message"]
    assert protocol.is_retryable(result)
    assert "grading" not in progress.stages


def test_an_unknown_grader_is_a_system_error_listing_the_known_ones():
    payload = script_payload(OK_PROGRAM)
    payload["grader"] = "no_such_grader"

    result = jobs.execute(payload)

    assert result["outcome"] == "system_error"
    assert "'no_such_grader' is not registered" in result["message"]
    assert "script" in result["message"]


def test_a_grader_version_mismatch_is_a_system_error():
    payload = script_payload(OK_PROGRAM)
    payload["grader_version"] = "2"

    result = jobs.execute(payload)

    assert result["outcome"] == "system_error"
    assert "version 1 on this runner" in result["message"] and "version 2" in result["message"]


def test_a_bad_payload_is_a_system_error_naming_the_field_and_keeping_the_ids():
    payload = script_payload(OK_PROGRAM, attempt_id=77)
    payload["limits"] = {"wall_s": -1}

    result = jobs.execute(payload)

    assert result["outcome"] == "system_error"
    assert "'limits.wall_s'" in result["message"]
    assert result["attempt_id"] == 77


def test_garbage_never_raises():
    result = jobs.execute("not a payload")

    assert result["outcome"] == "system_error"
    assert result["attempt_id"] is None


def test_a_broken_progress_callback_does_not_break_the_job():
    def explode(stage: str, detail: dict[str, Any]) -> None:
        raise RuntimeError("progress sink is down")

    result = jobs.execute(script_payload(OK_PROGRAM), progress=explode)

    assert result["verdict"] == "passed"


def test_without_a_sandbox_untrusted_code_is_refused(work_root: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RUNNER_BWRAP", str(work_root / "missing-bwrap"))

    result = jobs.execute(script_payload("open('/tmp/layerwise-should-not-run', 'w')"))

    assert (result["outcome"], result["verdict"]) == ("system_error", "sandbox_error")
    assert "missing-bwrap" in result["message"] and "RUNNER_ALLOW_UNSANDBOXED" in result["message"]
    assert not os.path.exists("/tmp/layerwise-should-not-run")


def test_unsandboxed_runs_are_allowed_only_explicitly_and_labelled(work_root: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RUNNER_BWRAP", str(work_root / "missing-bwrap"))
    monkeypatch.setenv("RUNNER_ALLOW_UNSANDBOXED", "1")

    result = jobs.execute(script_payload(OK_PROGRAM))

    assert (result["outcome"], result["verdict"]) == ("completed", "passed"), result["log_tail"]
    assert result["sandboxed"] is False
    assert result["environment"]["sandbox"] == "unsandboxed"
    assert result["environment"]["sandboxed"] is False
    assert result["raw"]["steps"]["main"]["sandboxed"] is False


# --- graders with several steps -----------------------------------------------------------------

LEARNER_PROGRAM = """
import json, os
first = not os.path.exists("/tmp/first-was-here")
found_leftover = os.path.exists("leftover.txt")
open("leftover.txt", "w").write("from the first step")
open("/tmp/first-was-here", "w").write("1")
with open("progress.jsonl", "a") as f:
    f.write(json.dumps({"stage": "learner-working", "done": 1, "nested": {"dropped": True}}) + "\\n")
    f.write("not json\\n")
try:
    import portfolio  # the runner package must not be visible to learner code
    importable = True
except ImportError:
    importable = False
code = sorted(os.path.join(d, f) for d, _, fs in os.walk("/opt/layerwise") for f in fs)
print(json.dumps({"ok": True, "found_leftover": found_leftover, "portfolio_importable": importable,
                  "code": code, "cwd": sorted(os.listdir("."))}))
"""


class TwoStepGrader:
    name = "two_step_test"
    version = "1"

    def grade(self, ctx: GradeContext) -> GradeReport:
        learner_input = {"script": "submission/main.py", "argv": []}
        outputs = {}
        for step in ("first", "second"):
            result, _ = ctx.run(step, [str(RUN_SCRIPT)], input=learner_input)
            if failed := ctx.failure(result, step=step):
                return failed
            outputs[step] = json.loads(result.stdout.strip().splitlines()[-1])
        truth, facts = ctx.run("truth", [str(PROBE)], input={"cuda": False}, learner_code=False)
        if failed := ctx.failure(truth, step="truth", learner_code=False):
            return failed
        return GradeReport.completed(
            verdict=protocol.VERDICT_PASSED, message="ran", metrics={**outputs, "truth_python": facts["python"]}
        )


class CrashingGrader:
    name = "crashing_test"
    version = "1"

    def grade(self, ctx: GradeContext) -> GradeReport:
        raise KeyError("a bug in the grader")


@pytest.fixture
def test_graders() -> Iterator[None]:
    graders.register(TwoStepGrader.name, TwoStepGrader)
    graders.register(CrashingGrader.name, CrashingGrader)
    yield
    graders._factories.pop(TwoStepGrader.name)
    graders._factories.pop(CrashingGrader.name)


def payload_for(grader: str, code: str) -> dict[str, Any]:
    payload = script_payload(code)
    payload["grader"] = grader
    return payload


def test_steps_are_isolated_and_only_ground_truth_sees_the_runner_code(test_graders: None):
    progress = Recorder()

    result = jobs.execute(payload_for("two_step_test", LEARNER_PROGRAM), progress=progress)

    assert result["verdict"] == "passed", result["log_tail"]
    first, second = result["metrics"]["first"], result["metrics"]["second"]
    assert first["found_leftover"] is False
    assert second["found_leftover"] is False  # each step has its own folder
    assert first["portfolio_importable"] is False
    assert first["code"] == ["/opt/layerwise/harness/run_script.py"]
    assert first["cwd"] == ["input.json", "leftover.txt", "progress.jsonl", "submission"]
    assert result["metrics"]["truth_python"].startswith("3.")
    assert set(result["raw"]["steps"]) == {"first", "second", "truth"}
    forwarded = [d for s, d in progress.events if s == "learner-working"]
    assert forwarded == [{"done": 1, "step": "first"}, {"done": 1, "step": "second"}]


def test_a_grader_that_crashes_is_a_system_error_with_its_traceback(test_graders: None):
    result = jobs.execute(payload_for("crashing_test", OK_PROGRAM))

    assert (result["outcome"], result["verdict"]) == ("system_error", "error")
    assert "crashing_test" in result["message"] and "KeyError" in result["message"]
    assert "a bug in the grader" in result["log_tail"]


def test_a_work_dir_the_sandbox_user_cannot_reach_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    if os.geteuid() != 0:
        pytest.skip("only a root worker hands the job folder to another user")
    hidden = tmp_path / "private"
    hidden.mkdir(mode=0o700)
    monkeypatch.setenv("RUNNER_WORK_DIR", str(hidden / "jobs"))

    result = jobs.execute(script_payload(OK_PROGRAM))

    assert (result["outcome"], result["verdict"]) == ("system_error", "sandbox_error")
    assert f"{hidden} is not searchable" in result["message"]
    assert "RUNNER_WORK_DIR" in result["message"]


def test_a_submission_past_the_runners_size_limit_is_the_submissions_failure_at_once():
    """The web refuses such uploads already; one that still arrives ends invalid_submission (never
    retried, never "our fault") without waiting for anything."""
    big = b"#" * (protocol.MAX_SUBMISSION_BYTES + 1)
    result = jobs.execute(script_payload(big.decode()))
    assert (result["outcome"], result["verdict"]) == (protocol.OUTCOME_SUBMISSION_FAILED, "invalid_submission")
    assert not protocol.is_retryable(result)
    assert str(protocol.MAX_SUBMISSION_BYTES) in result["message"]
