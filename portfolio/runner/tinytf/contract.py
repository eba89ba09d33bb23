"""The contract of artifact 01, the tiny transformer, as code (standard library only).

The learner submits ``tiny_transformer.py`` with

    build(config: dict) -> torch.nn.Module
    sample(logits, temperature, top_k, top_p, generator) -> LongTensor

The spec page, the skeleton, the harnesses and the checks all read this module, so what is
published is what is graded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portfolio.runner.kv import reference as kv_reference

MODULE_NAME = "tiny_transformer"
NORMS = ("rmsnorm", "layernorm")
POSITIONS = ("rope", "learned")
NORM_EPS = 1e-5
ROPE_THETA = 10000.0
DTYPE = "float32"

# (key, type, what it means); every key is always present in the configs the grader passes.
CONFIG_SCHEMA: tuple[tuple[str, str, str], ...] = (
    ("vocab_size", "int", "tokens are ids 0 .. vocab_size - 1"),
    ("n_layers", "int", "number of decoder blocks"),
    ("d_model", "int", "width of the residual stream"),
    ("n_heads", "int", "query heads; head_dim = d_model // n_heads"),
    ("n_kv_heads", "int", "key/value heads (n_heads for MHA, fewer for GQA, 1 for MQA); divides n_heads"),
    ("d_ff", "int", "hidden width of the SwiGLU MLP"),
    ("norm", '"rmsnorm" | "layernorm"', f"RMSNorm (weight only) or LayerNorm (weight and bias), eps {NORM_EPS:g}"),
    ("positions", '"rope" | "learned"', f"rotary embeddings on q and k (theta {ROPE_THETA:g}) or a learned table"),
    ("tie_embeddings", "bool", "lm_head shares tok_emb.weight (then lm_head.weight is not a parameter of its own)"),
    ("max_seq_len", "int", "longest sequence (past cache included) the model is asked to handle"),
)

SEMANTICS = """\
The model is a pre-norm decoder: x = tok_emb[ids] (+ pos_emb[positions] when positions is
"learned"); each block does x = x + attn(attn_norm(x)) and then x = x + mlp(mlp_norm(x)); the
output is lm_head(final_norm(x)). No linear layer has a bias.

Attention: q = q_proj(h), k = k_proj(h), v = v_proj(h), split into heads of head_dim =
d_model // n_heads; query head i uses key/value head i // (n_heads // n_kv_heads). With RoPE,
q and k are rotated by their absolute position p: for j < head_dim / 2, the pair (x[j],
x[j + head_dim/2]) is rotated by the angle p * theta^(-2j/head_dim) (the "rotate half"
convention of Llama and GPT-NeoX). Scores are q . k / sqrt(head_dim); a query at position p
attends to keys at positions <= p only; softmax, then weights times v, heads concatenated,
o_proj.

MLP: down_proj(silu(gate_proj(h)) * up_proj(h)).

Forward: model(input_ids, cache=None) returns (logits, cache). input_ids is a LongTensor
[batch, seq]; logits are float32 [batch, seq, vocab_size]. cache is None for a fresh sequence,
or what the previous call returned: a list with one (k, v) pair per layer, each tensor
[batch, n_kv_heads, tokens so far, head_dim], float32, keys after RoPE. A call with a cache
continues the sequence: its tokens take the positions after the cached ones, and the cache it
returns holds every token so far.

Blocks: model.blocks is an nn.ModuleList of the n_layers blocks; a block's forward returns the
new residual stream x, or a tuple whose first element is x (the grader reads block outputs with
forward hooks).

Sampling: sample(logits, temperature, top_k, top_p, generator) takes float logits [rows,
vocab] and returns a LongTensor [rows] with one token per row, drawn with torch.multinomial (or
another draw) using the given torch.Generator. temperature 0 means greedy (argmax). Otherwise
logits are divided by temperature before the softmax; then top_k (0 = off) keeps the k most
likely tokens; then top_p (1.0 = off) keeps the smallest set of most likely tokens whose
probability mass reaches top_p, the token that crosses the threshold included; the kept
probabilities are renormalised."""


class ConfigError(ValueError):
    pass


def validate_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The config as a plain dict, or ConfigError naming the key."""
    keys = [key for key, _, _ in CONFIG_SCHEMA]
    missing = [key for key in keys if key not in config]
    extra = sorted(set(config) - set(keys))
    if missing or extra:
        raise ConfigError(f"config keys: missing {missing}, unknown {extra}")
    for key in ("vocab_size", "n_layers", "d_model", "n_heads", "n_kv_heads", "d_ff", "max_seq_len"):
        if isinstance(config[key], bool) or not isinstance(config[key], int) or config[key] < 1:
            raise ConfigError(f"config.{key} must be a positive int")
    if config["d_model"] % config["n_heads"] or (config["d_model"] // config["n_heads"]) % 2:
        raise ConfigError("config.d_model must be n_heads times an even head_dim")
    if config["n_heads"] % config["n_kv_heads"]:
        raise ConfigError("config.n_kv_heads must divide n_heads")
    if config["norm"] not in NORMS or config["positions"] not in POSITIONS:
        raise ConfigError(f"config.norm is one of {NORMS}, config.positions one of {POSITIONS}")
    if not isinstance(config["tie_embeddings"], bool):
        raise ConfigError("config.tie_embeddings must be a bool")
    return dict(config)


def head_dim(config: Mapping[str, Any]) -> int:
    return int(config["d_model"]) // int(config["n_heads"])


def parameter_layout(config: Mapping[str, Any]) -> list[tuple[str, tuple[int, ...]]]:
    """The names and shapes of the module's parameters (its state_dict keys), in order.

    With tie_embeddings, lm_head.weight is not listed: it may be absent from the state_dict, or
    present as the very tensor tok_emb.weight."""
    v, d, f, hd = config["vocab_size"], config["d_model"], config["d_ff"], head_dim(config)
    q, kv = config["n_heads"] * hd, config["n_kv_heads"] * hd
    norm_params = ("weight", "bias") if config["norm"] == "layernorm" else ("weight",)
    layout: list[tuple[str, tuple[int, ...]]] = [("tok_emb.weight", (v, d))]
    if config["positions"] == "learned":
        layout.append(("pos_emb.weight", (config["max_seq_len"], d)))
    for i in range(config["n_layers"]):
        b = f"blocks.{i}"
        layout += [(f"{b}.attn_norm.{p}", (d,)) for p in norm_params]
        layout += [
            (f"{b}.attn.q_proj.weight", (q, d)),
            (f"{b}.attn.k_proj.weight", (kv, d)),
            (f"{b}.attn.v_proj.weight", (kv, d)),
            (f"{b}.attn.o_proj.weight", (d, q)),
        ]
        layout += [(f"{b}.mlp_norm.{p}", (d,)) for p in norm_params]
        layout += [
            (f"{b}.mlp.gate_proj.weight", (f, d)),
            (f"{b}.mlp.up_proj.weight", (f, d)),
            (f"{b}.mlp.down_proj.weight", (d, f)),
        ]
    layout += [(f"final_norm.{p}", (d,)) for p in norm_params]
    if not config["tie_embeddings"]:
        layout.append(("lm_head.weight", (v, d)))
    return layout


def parameter_count(config: Mapping[str, Any]) -> int:
    total = 0
    for _, shape in parameter_layout(config):
        size = 1
        for dim in shape:
            size *= dim
        total += size
    return total


def cache_bytes(config: Mapping[str, Any], batch_size: int, tokens: int) -> int:
    """The cache after `tokens` tokens per sequence: 09's formula, for this model as a Llama."""
    as_llama = {
        "model_type": "llama",
        "hidden_size": config["d_model"],
        "num_attention_heads": config["n_heads"],
        "num_key_value_heads": config["n_kv_heads"],
        "num_hidden_layers": config["n_layers"],
    }
    return kv_reference.kv_cache_bytes(as_llama, batch_size, tokens, DTYPE)
