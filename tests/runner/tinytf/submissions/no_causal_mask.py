"""Typical mistake: no causal mask; every query attends to every key, the future included."""

from __future__ import annotations

import correct
import torch
from correct import build, sample  # noqa: F401 - the contract's two functions


def every_key(q_len, k_len, device):
    return torch.ones(q_len, k_len, dtype=torch.bool, device=device)


correct.causal_mask = every_key
