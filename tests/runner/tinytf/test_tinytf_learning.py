"""The learning case trusts only what the check step computes: the held-out loss of the weights
the learner's step hands over, in the grader's reference, on sequences the training never saw.
The learner's code shares a process with the learner's harness and can make it report anything
(runner env; the harnesses chained as the grader chains them, without the sandbox)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from portfolio.runner.tinytf import cases
from tests.runner.tinytf.helpers import grade_submission

pytestmark = pytest.mark.runner_env

LEARNING = [item for item in cases.all_cases() if item["check"] == "learning"]


def _learning_test(tmp_path: Path, name: str) -> tuple[dict, dict]:
    result = grade_submission(tmp_path, name, [dict(item) for item in LEARNING])
    (test,) = result["tests"]
    return test, result["learner"]["results"][test["name"]]


def test_the_correct_submission_learns_by_the_check_steps_own_measure(tmp_path: Path) -> None:
    test, reported = _learning_test(tmp_path, "correct")
    assert test["status"] == "passed", test["message"]
    assert test["observed"] < cases.LOSS_THRESHOLD
    assert "computed by the grader's reference" in test["message"]
    assert "final_loss" not in reported  # the learner's step no longer reports a verdict's input


def test_a_faked_loss_without_training_fails(tmp_path: Path) -> None:
    test, reported = _learning_test(tmp_path, "hostile_fakes_loss")
    assert reported["final_loss"] == 0.0005 and reported["steps"] == cases.COPY_TASK["steps"]  # the lie was told
    assert test["status"] == "failed", test["message"]
    assert test["observed"] > 1.0  # untrained: near chance, ln(11) = 2.4 nats
    assert test["details"]["hint"] == cases.hint(LEARNING[0])


def test_untrained_weights_handed_over_after_a_real_training_run_fail(tmp_path: Path) -> None:
    test, reported = _learning_test(tmp_path, "hostile_untrained_weights")
    assert reported["last_batch_loss"] < cases.LOSS_THRESHOLD  # the training did happen
    assert test["status"] == "failed", test["message"]
    assert test["observed"] > 1.0


def test_weights_off_the_layout_fail_the_case_and_not_the_check_step(tmp_path: Path) -> None:
    test, _ = _learning_test(tmp_path, "hostile_bad_weights")
    assert test["status"] == "failed"
    message = test["message"]
    assert "not the published layout" in message and "tok_emb.weight is missing" in message
    assert "blocks.0.attn.q_proj.weight is torch.float32 [3, 5]" in message and "torch.int64" in message


def test_nan_weights_fail(tmp_path: Path) -> None:
    test, _ = _learning_test(tmp_path, "hostile_nan_weights")
    assert test["status"] == "failed" and test["observed"] is None
    assert "-> nan nats" in test["message"]


def test_the_learner_step_never_gets_the_held_out_seed() -> None:
    (item,) = LEARNING
    assert "heldout_seed" not in json.dumps(cases.learner_input(item))
    assert str(item["heldout_seed"]) not in json.dumps(cases.learner_input(item))
    assert cases.check_input(item)["heldout_seed"] == item["heldout_seed"]
