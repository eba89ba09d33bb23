"""Typical mistake: each code stored in a full byte (uint8), whatever the bit width; the values are
right, the storage is not what the bits claim."""

from __future__ import annotations

import reference_quantizer as base
import torch
from reference_quantizer import dequantize, qmatmul, quantize

__all__ = ["dequantize", "qmatmul", "quantize"]

base._store_codes = lambda codes, bits: codes.flatten().to(torch.uint8)
base._load_codes = lambda stored, bits, count: stored.to(torch.int32)[:count]
