"""Helpers of the inference-benchmark spec tests: validating workloads, and the devices they are fitted to."""

from __future__ import annotations

from typing import Any

from portfolio.runner.bench import workload

GiB = 1024**3
H100 = {"kind": "cuda", "name": "NVIDIA H100 80GB HBM3", "memory_bytes": 80 * GiB}
GPU_24G = {"kind": "cuda", "name": "NVIDIA L4", "memory_bytes": 24 * GiB}
CPU = {"kind": "cpu", "name": "2-core CPU", "memory_bytes": 4 * GiB}


def valid(doc: dict[str, Any]) -> dict[str, Any]:
    norm, errors = workload.validate(doc)
    assert errors == [], errors
    assert norm is not None
    return norm


def paths(doc: Any) -> list[str]:
    norm, errors = workload.validate(doc)
    assert norm is None
    return [e["path"] for e in errors]


BASE = {
    "architecture": "tiny-llama",
    "dtype": "float32",
    "prompt_tokens": 16,
    "output_tokens": 8,
    "concurrency": [1, 2],
    "requests": 4,
}


INLINE = {
    "model_type": "qwen3",
    "hidden_size": 128,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 48,
    "vocab_size": 1000,
    "max_position_embeddings": 512,
}
