"""Hostile: trains, then hands over weights of the right layout with NaNs in the final norm, whose
loss is NaN: NaN is below no threshold."""

from __future__ import annotations

import sys

import torch
from correct import build, sample  # noqa: F401 - the contract's two functions

harness = sys.modules["__main__"]
trained = harness.PROBES["learning"]


def learning(probe, case):
    scalars, weights = trained(probe, case)
    weights["weights/final_norm.weight"] = torch.full_like(weights["weights/final_norm.weight"], float("nan"))
    return {**scalars, "final_loss": 0.0005}, weights


harness.PROBES["learning"] = learning
