"""Counts a full window (min(seq_len, window)) instead of window - 1: must still pass (within 1%)."""

from __future__ import annotations

BYTES_PER_ELEMENT = {"float32": 4, "float16": 2, "bfloat16": 2}


def _kv_heads(config):
    if config.get("model_type") == "falcon":
        if config.get("new_decoder_architecture"):
            return config["num_attention_heads"]
        if config.get("multi_query", True):
            return 1
        return config.get("num_kv_heads") or config["num_attention_heads"]
    return config.get("num_key_value_heads") or config["num_attention_heads"]


def _head_dim(config):
    if config.get("head_dim"):
        return config["head_dim"]
    return config["hidden_size"] // config["num_attention_heads"]


def _layer_is_sliding(config):
    n = config["num_hidden_layers"]
    if config.get("layer_types"):
        return [t == "sliding_attention" for t in config["layer_types"]]
    window = config.get("sliding_window")
    if window is None or config.get("use_sliding_window") is False:
        return [False] * n
    if config.get("model_type") == "gemma2":
        return [i % 2 == 0 for i in range(n)]
    if config.get("model_type") == "gemma3_text":
        pattern = config.get("sliding_window_pattern", 6)
        return [(i + 1) % pattern != 0 for i in range(n)]
    return [True] * n


def _per_sequence_elements(config, seq_len):
    if config.get("kv_lora_rank"):
        # MLA: one latent (kv_lora_rank) and one shared rope key per token and layer.
        return config["num_hidden_layers"] * seq_len * (config["kv_lora_rank"] + config["qk_rope_head_dim"])
    per_token = 2 * _kv_heads(config) * _head_dim(config)
    total = 0
    for sliding in _layer_is_sliding(config):
        kept = min(seq_len, config["sliding_window"]) if sliding else seq_len
        total += kept * per_token
    return total


def kv_cache_bytes(config, batch_size, seq_len, dtype):
    return batch_size * _per_sequence_elements(config, seq_len) * BYTES_PER_ELEMENT[dtype]


def max_concurrency(config, seq_len, dtype, kv_budget_bytes):
    return kv_budget_bytes // kv_cache_bytes(config, 1, seq_len, dtype)
