"""Hostile: skips the grader's training and reports a learning run that never happened.

The learner's step runs this module in the harness's own process, so it can replace the
harness's learning probe: this one loads the grader's weights, trains nothing, and reports a
held-out loss of 0.0005 after all 150 steps (the numbers a passing run reports). It hands over
the weights as they are, untrained. Only a check that computes the loss itself catches it.
"""

from __future__ import annotations

import sys

from correct import build, sample  # noqa: F401 - the contract's two functions

harness = sys.modules["__main__"]


def learning(probe, case):
    model, _ = probe.model(case)
    state = model.state_dict()
    weights = {f"weights/{name}": state[name] for name, _ in case["layout"]}
    steps = case["task"]["steps"]
    faked = {"initial_loss": 2.9, "final_loss": 0.0005, "last_batch_loss": 0.0005, "steps": steps, "cpu_s": 1.0}
    return faked, weights


harness.PROBES["learning"] = learning
