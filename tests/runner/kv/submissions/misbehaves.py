"""Correct, except that it misbehaves on chosen cases, each in a different way.

The grader must fail exactly those cases, each with its reason, and pass all the others: a learner
error never spreads to another case (the worker is restarted after a timeout or an exit).
"""

from __future__ import annotations

import os
import sys
import time

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
        kept = min(seq_len, config["sliding_window"] - 1) if sliding else seq_len
        total += kept * per_token
    return total


def _correct_bytes(config, batch_size, seq_len, dtype):
    return batch_size * _per_sequence_elements(config, seq_len) * BYTES_PER_ELEMENT[dtype]


def _correct_concurrency(config, seq_len, dtype, kv_budget_bytes):
    return kv_budget_bytes // _correct_bytes(config, 1, seq_len, dtype)


def kv_cache_bytes(config, batch_size, seq_len, dtype):
    value = _correct_bytes(config, batch_size, seq_len, dtype)
    model = config.get("model_type")
    if model == "llama" and config["num_key_value_heads"] == 32 and seq_len == 1024:
        raise ValueError("deliberate failure for the MHA case")  # llama-2-7b-1k-fp16
    if model == "falcon" and batch_size == 8:
        return float(value)  # falcon-7b-batch8-fp32: an integral float is still refused
    if model == "gemma2" and seq_len == 1024:
        return str(value)  # gemma-2-9b-1k-bf16
    if model == "qwen2":
        return None  # hidden-03
    if model == "llama" and config["num_key_value_heads"] == 32 and seq_len == 500:
        return True  # hidden-10
    if model == "gemma3_text" and seq_len == 300:
        time.sleep(60)  # hidden-07: past the per-call limit
    if model == "falcon" and seq_len == 1500:
        os._exit(3)  # hidden-09: ends the worker process
    if model == "llama" and batch_size == 4:
        sys.exit("bye")  # hidden-02
    if model == "llama" and config["num_hidden_layers"] == 80:
        return 10**100  # hidden-01: far too large an int
    if model == "mistral" and seq_len == 2048:
        sys.stdout.write("x" * 5_000_000 + "\nprinted five megabytes\n")  # passes: printing is allowed
    return value


def max_concurrency(config, seq_len, dtype, kv_budget_bytes):
    if config.get("model_type") == "llama":
        raise ZeroDivisionError("deliberate failure in max_concurrency")  # llama-3.1-8b-concurrency-8k
    return _correct_concurrency(config, seq_len, dtype, kv_budget_bytes)
