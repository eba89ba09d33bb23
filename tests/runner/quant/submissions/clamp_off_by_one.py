"""Typical mistake: 2^b levels instead of 2^b - 1, for the step and the clamp (codes 0 .. 2^b). A
group's largest weight gets the code 2^b, which b bits cannot hold: packed, it wraps to 0."""

from __future__ import annotations

import reference_quantizer as base
from reference_quantizer import dequantize, qmatmul, quantize

__all__ = ["dequantize", "qmatmul", "quantize"]

base._levels = lambda bits: 2**bits
