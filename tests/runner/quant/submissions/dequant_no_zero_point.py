"""Typical mistake: dequantize multiplies the code by the scale and forgets the zero point."""

from __future__ import annotations

import reference_quantizer as base
from reference_quantizer import dequantize, qmatmul, quantize

__all__ = ["dequantize", "qmatmul", "quantize"]

base._restore = lambda codes, zero, scale: codes * scale
