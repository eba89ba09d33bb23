"""Hostile: trains, then hands over weights that are not the published layout (a projection of
the wrong shape, a missing embedding, a parameter stored as integers). The check step must
refuse them as a failed case, never fail itself."""

from __future__ import annotations

import sys

import torch
from correct import build, sample  # noqa: F401 - the contract's two functions

harness = sys.modules["__main__"]
trained = harness.PROBES["learning"]


def learning(probe, case):
    scalars, weights = trained(probe, case)
    weights["weights/blocks.0.attn.q_proj.weight"] = torch.zeros(3, 5)
    weights["weights/blocks.1.mlp.up_proj.weight"] = weights["weights/blocks.1.mlp.up_proj.weight"].long()
    del weights["weights/tok_emb.weight"]
    return {**scalars, "final_loss": 0.0005}, weights


harness.PROBES["learning"] = learning
