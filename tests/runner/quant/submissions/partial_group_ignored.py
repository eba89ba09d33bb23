"""Typical mistake: cols // group_size groups, so the last partial group is never quantized and
comes back as zeros."""

from __future__ import annotations

import reference_quantizer as base
from reference_quantizer import dequantize, qmatmul, quantize

__all__ = ["dequantize", "qmatmul", "quantize"]

base._groups = lambda cols, group_size: cols // group_size
