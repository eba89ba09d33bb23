"""A submission that misbehaves on purpose, in one way per kind of case (test_tinytf_pipeline)."""

from __future__ import annotations

import time

import correct
import torch


def build(config):
    if config["norm"] == "layernorm":
        raise ValueError("deliberate failure for the LayerNorm configs")
    model = correct.build(config)
    if config["n_kv_heads"] == 1:
        model.extra = torch.nn.Linear(2, 2)  # a parameter the layout does not have
    return model


def sample(logits, temperature, top_k, top_p, generator):
    if temperature == 0:
        time.sleep(30)
    if top_k == 3:
        return [0] * logits.shape[0]
    return correct.sample(logits, temperature, top_k, top_p, generator)
