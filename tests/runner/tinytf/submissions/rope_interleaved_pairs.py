"""Typical mistake: RoPE rotates interleaved pairs (x[2j], x[2j+1]) where the contract rotates
(x[j], x[j + head_dim/2]); invisible without a reference holding the same weights."""

from __future__ import annotations

import correct
import torch
from correct import build, sample  # noqa: F401 - the contract's two functions


def interleaved(x, cos, sin):
    even, odd = x[..., 0::2], x[..., 1::2]
    return torch.stack([even * cos - odd * sin, odd * cos + even * sin], dim=-1).flatten(-2)


correct.rotate = interleaved
