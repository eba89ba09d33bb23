"""Typical mistake: the range (so the scale and zero point) of the whole tensor, stored once per
group as the layout expects. The outlier channels then set the step for every weight."""

from __future__ import annotations

import reference_quantizer as base
from reference_quantizer import dequantize, qmatmul, quantize

__all__ = ["dequantize", "qmatmul", "quantize"]


def _tensor_range(blocks):
    return blocks.amin().expand_as(blocks[..., :1]), blocks.amax().expand_as(blocks[..., :1])


base._range = _tensor_range
