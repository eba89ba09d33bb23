"""Hostile: lets the grader's training run, then hands over the weights it started from.

The training itself goes well (its last batch's loss is tiny), and the reported loss says so;
but the weights in the tensors file are the grader's untrained ones, regenerated with the
harness's own make_weights. A check that trusts the report passes it; one that judges the
handed-over weights does not.
"""

from __future__ import annotations

import sys

from correct import build, sample  # noqa: F401 - the contract's two functions

harness = sys.modules["__main__"]
trained = harness.PROBES["learning"]


def learning(probe, case):
    scalars, _ = trained(probe, case)
    initial = harness.make_weights(case["layout"], case["seed"])
    return {**scalars, "final_loss": 0.0005}, {f"weights/{name}": value for name, value in initial.items()}


harness.PROBES["learning"] = learning
