"""Typical mistake: the KV cache keeps only the newest keys and values instead of appending."""

from __future__ import annotations

import correct
from correct import build, sample  # noqa: F401 - the contract's two functions


def replace(layer_cache, k, v):
    return k, v


correct.append_to_cache = replace
