"""Typical mistake: the causal mask is off by one; a query also sees the token after it."""

from __future__ import annotations

import correct
import torch
from correct import build, sample  # noqa: F401 - the contract's two functions


def one_ahead(q_len, k_len, device):
    return torch.ones(q_len, k_len, dtype=torch.bool, device=device).tril(diagonal=k_len - q_len + 1)


correct.causal_mask = one_ahead
