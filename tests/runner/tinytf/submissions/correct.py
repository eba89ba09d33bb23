"""A correct tiny transformer (the contract's model), written the way a learner would.

The typical-mistake submissions next to it import this module and replace one of its small
functions (scores, causal_mask, rotate, positions, append_to_cache, block_forward, top_p_filter,
apply_temperature), so each mistake is the one change a learner makes, and nothing else differs.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def make_norm(config):
    if config["norm"] == "layernorm":
        return nn.LayerNorm(config["d_model"], eps=1e-5)
    return RMSNorm(config["d_model"])


def rotate(x, cos, sin):
    half = x.shape[-1] // 2
    first, second = x[..., :half], x[..., half:]
    return torch.cat([first * cos - second * sin, second * cos + first * sin], dim=-1)


def rope_angles(positions, head_dim, theta=10000.0):
    inv_freq = theta ** (-torch.arange(0, head_dim, 2, dtype=torch.float32, device=positions.device) / head_dim)
    angles = positions.float()[:, None] * inv_freq[None, :]
    return angles.cos(), angles.sin()


def positions(past, length, device):
    return torch.arange(past, past + length, device=device)


def causal_mask(q_len, k_len, device):
    """True where a query may attend: key position <= query position."""
    offset = k_len - q_len
    q_pos = torch.arange(q_len, device=device)[:, None] + offset
    k_pos = torch.arange(k_len, device=device)[None, :]
    return k_pos <= q_pos


def scores(q, k):
    return q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])


def append_to_cache(layer_cache, k, v):
    if layer_cache is None:
        return k, v
    past_k, past_v = layer_cache
    return torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)


class Attention(nn.Module):
    def __init__(self, config):
        super().__init__()
        d, self.heads, self.kv_heads = config["d_model"], config["n_heads"], config["n_kv_heads"]
        self.head_dim = d // self.heads
        self.rope = config["positions"] == "rope"
        self.q_proj = nn.Linear(d, self.heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(d, self.kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(d, self.kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.heads * self.head_dim, d, bias=False)

    def forward(self, x, pos, layer_cache):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        if self.rope:
            cos, sin = rope_angles(pos, self.head_dim)
            q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        k, v = append_to_cache(layer_cache, k, v)
        group = self.heads // self.kv_heads
        kk, vv = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        s = scores(q, kk)
        s = s.masked_fill(~causal_mask(t, kk.shape[2], x.device), float("-inf"))
        out = (s.softmax(-1) @ vv).transpose(1, 2).reshape(b, t, -1)
        return self.o_proj(out), (k, v)


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        d, f = config["d_model"], config["d_ff"]
        self.gate_proj = nn.Linear(d, f, bias=False)
        self.up_proj = nn.Linear(d, f, bias=False)
        self.down_proj = nn.Linear(f, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


def block_forward(block, x, pos, layer_cache):
    a, layer_cache = block.attn(block.attn_norm(x), pos, layer_cache)
    x = x + a
    x = x + block.mlp(block.mlp_norm(x))
    return x, layer_cache


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.attn_norm = make_norm(config)
        self.attn = Attention(config)
        self.mlp_norm = make_norm(config)
        self.mlp = MLP(config)

    def forward(self, x, pos, layer_cache=None):
        return block_forward(self, x, pos, layer_cache)


class TinyTransformer(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config["vocab_size"], config["d_model"])
        if config["positions"] == "learned":
            self.pos_emb = nn.Embedding(config["max_seq_len"], config["d_model"])
        self.blocks = nn.ModuleList(Block(config) for _ in range(config["n_layers"]))
        self.final_norm = make_norm(config)
        self.lm_head = nn.Linear(config["d_model"], config["vocab_size"], bias=False)
        if config["tie_embeddings"]:
            self.lm_head.weight = self.tok_emb.weight

    def forward(self, input_ids, cache=None):
        past = 0 if cache is None else cache[0][0].shape[2]
        pos = positions(past, input_ids.shape[1], input_ids.device)
        x = self.tok_emb(input_ids)
        if self.config["positions"] == "learned":
            x = x + self.pos_emb(pos)
        new_cache = []
        for i, block in enumerate(self.blocks):
            x, layer_cache = block(x, pos, None if cache is None else cache[i])
            new_cache.append(layer_cache)
        return self.lm_head(self.final_norm(x)), new_cache


def build(config):
    return TinyTransformer(config)


def apply_temperature(logits, temperature):
    return (logits / temperature).softmax(-1)


def top_k_filter(probs, k):
    if not k or k >= probs.shape[-1]:
        return probs
    kth = probs.topk(k, dim=-1).values[..., -1:]
    return probs.masked_fill(probs < kth, 0.0)


def top_p_filter(probs, p):
    if p >= 1.0:
        return probs
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    before = sorted_probs.cumsum(-1) - sorted_probs  # mass of the more likely tokens
    sorted_probs = sorted_probs.masked_fill(before >= p, 0.0)
    return torch.zeros_like(probs).scatter(-1, order, sorted_probs)


def sample(logits, temperature, top_k, top_p, generator):
    if temperature == 0:
        return logits.argmax(-1)
    probs = apply_temperature(logits.float(), temperature)
    probs = top_k_filter(probs, top_k)
    probs = top_p_filter(probs / probs.sum(-1, keepdim=True), top_p)
    probs = probs / probs.sum(-1, keepdim=True)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
