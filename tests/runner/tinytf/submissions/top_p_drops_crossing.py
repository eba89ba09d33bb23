"""Typical mistake: top-p keeps only tokens whose cumulative mass stays at or below p, dropping
the token that crosses the threshold."""

from __future__ import annotations

import correct
import torch
from correct import build, sample  # noqa: F401 - the contract's two functions


def strictly_below(probs, p):
    if p >= 1.0:
        return probs
    ordered, order = probs.sort(dim=-1, descending=True)
    ordered = ordered.masked_fill(ordered.cumsum(-1) > p, 0.0)
    ordered[..., 0] = ordered[..., 0].clamp_min(1e-12)  # keep one token so a row never sums to 0
    return torch.zeros_like(probs).scatter(-1, order, ordered)


correct.top_p_filter = strictly_below
