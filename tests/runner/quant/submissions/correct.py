"""A correct quantizer: asymmetric round-to-nearest per group, float16 scales, b-bit zero points,
codes and zero points bit-packed densely; the last partial group has its own scale.

Written in small steps so that each typical-mistake submission (the other files here) replaces
exactly one of them: they import this file as `reference_quantizer` (the tests ship it beside them).
"""

from __future__ import annotations

import math

import torch


def _groups(cols: int, group_size: int) -> int:
    return math.ceil(cols / group_size)


def _levels(bits: int) -> int:
    """The largest code: b bits hold 0 .. 2^b - 1."""
    return 2**bits - 1


def _range(blocks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return blocks.amin(-1, keepdim=True), blocks.amax(-1, keepdim=True)


def _store_codes(codes: torch.Tensor, bits: int) -> torch.Tensor:
    flat = codes.flatten().to(torch.int32)
    planes = ((flat.unsqueeze(-1) >> torch.arange(bits)) & 1).flatten()
    planes = torch.nn.functional.pad(planes, (0, (-planes.numel()) % 8))
    return (planes.reshape(-1, 8) << torch.arange(8)).sum(-1).to(torch.uint8)


def _load_codes(stored: torch.Tensor, bits: int, count: int) -> torch.Tensor:
    planes = ((stored.to(torch.int32).unsqueeze(-1) >> torch.arange(8)) & 1).flatten()[: count * bits]
    return (planes.reshape(count, bits) << torch.arange(bits)).sum(-1)


def _restore(codes: torch.Tensor, zero: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return (codes - zero) * scale


def quantize(weight, bits, group_size):
    rows, cols = weight.shape
    groups = _groups(cols, group_size)
    width = groups * group_size
    w = weight.float()[:, :width]
    if width > cols:  # pad the partial group with a value of its own: its range is unchanged
        w = torch.cat([w, w[:, -1:].expand(rows, width - cols)], 1)
    blocks = w.reshape(rows, groups, group_size)
    qmax = _levels(bits)
    low, high = _range(blocks)
    scale = ((high - low) / qmax).clamp_min(1e-8).half().float()
    zero = torch.clamp(torch.round(-low / scale), 0, qmax)
    codes = torch.clamp(torch.round(blocks / scale) + zero, 0, qmax)
    return {
        "codes": _store_codes(codes, bits),
        "scale": scale.half().reshape(rows, groups),
        "zero": _store_codes(zero, bits),
    }


def dequantize(packed, bits, group_size, shape):
    rows, cols = shape
    groups = _groups(cols, group_size)
    width = groups * group_size
    codes = _load_codes(packed["codes"], bits, rows * width).reshape(rows, groups, group_size)
    zero = _load_codes(packed["zero"], bits, rows * groups).reshape(rows, groups, 1)
    scale = packed["scale"].float().reshape(rows, groups, 1)
    restored = _restore(codes, zero, scale).reshape(rows, width)
    return restored[:, :cols] if width >= cols else torch.nn.functional.pad(restored, (0, cols - width))


def qmatmul(x, packed, bits, group_size, shape):
    return torch.nn.functional.linear(x, dequantize(packed, bits, group_size, shape).to(x.dtype))
