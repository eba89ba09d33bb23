"""Typical mistake: positions restart at 0 on every call, so tokens decoded with a cache are
rotated (or embedded) as if they came first."""

from __future__ import annotations

import correct
import torch
from correct import build, sample  # noqa: F401 - the contract's two functions


def from_zero(past, length, device):
    return torch.arange(length, device=device)


correct.positions = from_zero
