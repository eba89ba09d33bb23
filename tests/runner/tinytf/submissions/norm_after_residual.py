"""Typical mistake: the norm in the wrong place (post-norm, x = norm(x + attn(x))), where the
contract's model is pre-norm."""

from __future__ import annotations

import correct
from correct import build, sample  # noqa: F401 - the contract's two functions


def post_norm(block, x, pos, layer_cache):
    a, layer_cache = block.attn(x, pos, layer_cache)
    x = block.attn_norm(x + a)
    x = block.mlp_norm(x + block.mlp(x))
    return x, layer_cache


correct.block_forward = post_norm
