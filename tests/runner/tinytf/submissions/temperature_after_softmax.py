"""Typical mistake: the temperature divides the probabilities after the softmax, which the
renormalisation then undoes."""

from __future__ import annotations

import correct
from correct import build, sample  # noqa: F401 - the contract's two functions


def after(logits, temperature):
    probs = logits.softmax(-1) / temperature
    return probs / probs.sum(-1, keepdim=True)


correct.apply_temperature = after
