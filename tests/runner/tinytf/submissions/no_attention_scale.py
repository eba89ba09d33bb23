"""Typical mistake: attention scores without the 1/sqrt(head_dim) scale."""

from __future__ import annotations

import correct
from correct import build, sample  # noqa: F401 - the contract's two functions


def unscaled(q, k):
    return q @ k.transpose(-1, -2)


correct.scores = unscaled
