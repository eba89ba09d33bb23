"""The grader's own tiny transformer: the contract's model (contract.SEMANTICS) as a function of
a weights dict laid out as contract.parameter_layout says. It computes in float64, so its
rounding is far below the tolerance a float32 submission is held to. Needs torch."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from portfolio.runner.tinytf import contract


def _norm(config: Mapping[str, Any], w: Mapping[str, torch.Tensor], prefix: str, x: torch.Tensor) -> torch.Tensor:
    if config["norm"] == "layernorm":
        return F.layer_norm(x, x.shape[-1:], w[f"{prefix}.weight"], w[f"{prefix}.bias"], contract.NORM_EPS)
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + contract.NORM_EPS) * w[f"{prefix}.weight"]


def rope(x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Rotate [batch, heads, seq, head_dim] by absolute positions, the "rotate half" pairing."""
    half = x.shape[-1] // 2
    inv_freq = contract.ROPE_THETA ** (-torch.arange(half, dtype=x.dtype, device=x.device) * 2 / x.shape[-1])
    angles = positions.to(x.dtype)[:, None] * inv_freq[None, :]
    cos, sin = angles.cos(), angles.sin()
    first, second = x[..., :half], x[..., half:]
    return torch.cat([first * cos - second * sin, second * cos + first * sin], dim=-1)


def _attention(config: Mapping[str, Any], w: Mapping[str, torch.Tensor], b: str, h: torch.Tensor) -> torch.Tensor:
    batch, seq, _ = h.shape
    hd, heads, kv_heads = contract.head_dim(config), config["n_heads"], config["n_kv_heads"]
    q = (h @ w[f"{b}.attn.q_proj.weight"].T).view(batch, seq, heads, hd).transpose(1, 2)
    k = (h @ w[f"{b}.attn.k_proj.weight"].T).view(batch, seq, kv_heads, hd).transpose(1, 2)
    v = (h @ w[f"{b}.attn.v_proj.weight"].T).view(batch, seq, kv_heads, hd).transpose(1, 2)
    if config["positions"] == "rope":
        positions = torch.arange(seq, device=h.device)
        q, k = rope(q, positions), rope(k, positions)
    group = heads // kv_heads
    k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
    scores = q @ k.transpose(-1, -2) / math.sqrt(hd)
    allowed = torch.ones(seq, seq, dtype=torch.bool, device=h.device).tril()
    scores = scores.masked_fill(~allowed, float("-inf"))
    out = (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, seq, heads * hd)
    return out @ w[f"{b}.attn.o_proj.weight"].T


def _mlp(w: Mapping[str, torch.Tensor], b: str, h: torch.Tensor) -> torch.Tensor:
    gate = F.silu(h @ w[f"{b}.mlp.gate_proj.weight"].T)
    return (gate * (h @ w[f"{b}.mlp.up_proj.weight"].T)) @ w[f"{b}.mlp.down_proj.weight"].T


def forward(
    config: Mapping[str, Any], weights: Mapping[str, torch.Tensor], ids: torch.Tensor
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(logits [batch, seq, vocab], [the residual stream after each block]), in float64."""
    w = {name: value.to(torch.float64) for name, value in weights.items()}
    x = w["tok_emb.weight"][ids]
    if config["positions"] == "learned":
        x = x + w["pos_emb.weight"][: ids.shape[1]]
    blocks = []
    for i in range(config["n_layers"]):
        b = f"blocks.{i}"
        x = x + _attention(config, w, b, _norm(config, w, f"{b}.attn_norm", x))
        x = x + _mlp(w, b, _norm(config, w, f"{b}.mlp_norm", x))
        blocks.append(x)
    head = w["tok_emb.weight"] if config["tie_embeddings"] else w["lm_head.weight"]
    return _norm(config, w, "final_norm", x) @ head.T, blocks
