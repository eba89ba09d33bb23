"""Typical mistake: codes clamped to 0..2^b instead of 0..2^b - 1 (and the step computed for 2^b
levels' range). The largest weight of a group gets the code 2^b, which b bits cannot hold: packed,
it wraps to 0."""

from __future__ import annotations

import math

import torch


def _pack(codes: torch.Tensor, bits: int) -> torch.Tensor:
    flat = codes.flatten().to(torch.int32)
    planes = ((flat.unsqueeze(-1) >> torch.arange(bits)) & 1).flatten()
    planes = torch.nn.functional.pad(planes, (0, (-planes.numel()) % 8))
    return (planes.reshape(-1, 8) << torch.arange(8)).sum(-1).to(torch.uint8)


def _unpack(packed: torch.Tensor, bits: int, count: int) -> torch.Tensor:
    planes = ((packed.to(torch.int32).unsqueeze(-1) >> torch.arange(8)) & 1).flatten()[: count * bits]
    return (planes.reshape(count, bits) << torch.arange(bits)).sum(-1)


def quantize(weight, bits, group_size):
    rows, cols = weight.shape
    groups = math.ceil(cols / group_size)
    w = weight.float()
    pad = groups * group_size - cols
    if pad:
        w = torch.cat([w, w[:, -1:].expand(rows, pad)], 1)  # repeat a real value: the range is unchanged
    blocks = w.reshape(rows, groups, group_size)
    qmax = 2**bits - 1
    low, high = blocks.amin(-1, keepdim=True), blocks.amax(-1, keepdim=True)
    scale = ((high - low) / qmax * 0.97).clamp_min(1e-8).half().float()
    zero = torch.clamp(torch.round(-low / scale), 0, qmax)
    codes = torch.clamp(torch.round(blocks / scale) + zero, 0, qmax + 1)
    return {"codes": _pack(codes, bits), "scale": scale.half().reshape(rows, groups), "zero": _pack(zero, bits)}


def dequantize(packed, bits, group_size, shape):
    rows, cols = shape
    groups = math.ceil(cols / group_size)
    codes = _unpack(packed["codes"], bits, rows * groups * group_size).reshape(rows, groups, group_size)
    zero = _unpack(packed["zero"], bits, rows * groups).reshape(rows, groups, 1)
    scale = packed["scale"].float().reshape(rows, groups, 1)
    return ((codes - zero) * scale).reshape(rows, groups * group_size)[:, :cols]


def qmatmul(x, packed, bits, group_size, shape):
    return torch.nn.functional.linear(x, dequantize(packed, bits, group_size, shape).to(x.dtype))
