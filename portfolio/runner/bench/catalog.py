"""The benchmark's catalog: model shapes a runner accepts by name, listed on the spec page.

Standard library only (the web app lists it; the runner resolves names from it). CPU entries are deliberately tiny (a few million parameters) so a whole benchmark runs
in seconds on a 2-core runner; "small-llama" is the heavier CPU entry the overhead benchmark
uses. GPU entries copy the shape fields of the published config.json files (weights are random;
only shapes matter for timing and memory). The parameter counts in the notes are what these
shapes give, and match the published model sizes.
"""

from __future__ import annotations

from typing import Any

from . import model_config

CPU_CATALOG: dict[str, dict[str, Any]] = {
    "tiny-llama": {
        "description": "Llama-style decoder, 4 layers, hidden 256, GQA 8 query / 2 KV heads (~7.0 M parameters)",
        "source": "made up for the CPU runner, shaped like Llama (RMSNorm, SwiGLU, RoPE, GQA)",
        "config": {
            "model_type": "llama",
            "hidden_size": 256,
            "intermediate_size": 704,
            "num_hidden_layers": 4,
            "num_attention_heads": 8,
            "num_key_value_heads": 2,
            "vocab_size": 8192,
            "max_position_embeddings": 2048,
            "rms_norm_eps": 1e-5,
            "rope_theta": 10000.0,
            "tie_word_embeddings": False,
        },
    },
    "tiny-qwen2": {
        "description": "Qwen2-style decoder, 4 layers, hidden 256, QKV bias, tied embeddings (~5.2 M parameters)",
        "source": "made up for the CPU runner, shaped like Qwen2 (QKV bias, tied embeddings)",
        "config": {
            "model_type": "qwen2",
            "hidden_size": 256,
            "intermediate_size": 768,
            "num_hidden_layers": 4,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "vocab_size": 8192,
            "max_position_embeddings": 2048,
            "rms_norm_eps": 1e-6,
            "rope_theta": 1000000.0,
            "tie_word_embeddings": True,
        },
    },
    "tiny-gpt2": {
        "description": "GPT-2-style decoder, 4 layers, hidden 256, learned positions, MHA (~5.5 M parameters)",
        "source": "made up for the CPU runner, shaped like GPT-2 (LayerNorm, GELU MLP, learned positions)",
        "config": {
            "model_type": "gpt2",
            "n_embd": 256,
            "n_layer": 4,
            "n_head": 4,
            "vocab_size": 8192,
            "n_positions": 1024,
            "bos_token_id": 8191,
            "eos_token_id": 8191,
        },
    },
    "small-llama": {
        "description": "Llama-style decoder, 8 layers, hidden 768, GQA 12 query / 4 KV heads (~99 M parameters)",
        "source": "made up for the CPU runner; heavy enough that a decode step takes tens of ms on 2 cores",
        "config": {
            "model_type": "llama",
            "hidden_size": 768,
            "intermediate_size": 2048,
            "num_hidden_layers": 8,
            "num_attention_heads": 12,
            "num_key_value_heads": 4,
            "vocab_size": 32000,
            "max_position_embeddings": 4096,
            "rms_norm_eps": 1e-5,
            "rope_theta": 10000.0,
            "tie_word_embeddings": False,
        },
    },
}

GPU_CATALOG: dict[str, dict[str, Any]] = {
    "qwen2.5-0.5b": {
        "description": "Qwen2.5-0.5B shapes (494,032,768 parameters)",
        "source": "Qwen/Qwen2.5-0.5B-Instruct config.json",
        "config": {
            "model_type": "qwen2",
            "hidden_size": 896,
            "intermediate_size": 4864,
            "num_hidden_layers": 24,
            "num_attention_heads": 14,
            "num_key_value_heads": 2,
            "vocab_size": 151936,
            "max_position_embeddings": 32768,
            "rms_norm_eps": 1e-6,
            "rope_theta": 1000000.0,
            "tie_word_embeddings": True,
            "bos_token_id": 151643,
            "eos_token_id": 151645,
        },
    },
    "llama-3.1-8b": {
        "description": "Llama 3.1 8B shapes (8,030,261,248 parameters)",
        "source": "meta-llama/Llama-3.1-8B config.json",
        "config": {
            "model_type": "llama",
            "hidden_size": 4096,
            "intermediate_size": 14336,
            "num_hidden_layers": 32,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "vocab_size": 128256,
            "max_position_embeddings": 131072,
            "rms_norm_eps": 1e-5,
            "rope_theta": 500000.0,
            "rope_scaling": {
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 8192,
                "rope_type": "llama3",
            },
            "tie_word_embeddings": False,
            "bos_token_id": 128000,
            "eos_token_id": 128001,
        },
    },
    "qwen2.5-7b": {
        "description": "Qwen2.5-7B shapes (7,615,616,512 parameters)",
        "source": "Qwen/Qwen2.5-7B-Instruct config.json",
        "config": {
            "model_type": "qwen2",
            "hidden_size": 3584,
            "intermediate_size": 18944,
            "num_hidden_layers": 28,
            "num_attention_heads": 28,
            "num_key_value_heads": 4,
            "vocab_size": 152064,
            "max_position_embeddings": 32768,
            "rms_norm_eps": 1e-6,
            "rope_theta": 1000000.0,
            "tie_word_embeddings": False,
            "bos_token_id": 151643,
            "eos_token_id": 151645,
        },
    },
    "mistral-7b-v0.3": {
        "description": "Mistral 7B v0.3 shapes (7,248,023,552 parameters)",
        "source": "mistralai/Mistral-7B-v0.3 config.json",
        "config": {
            "model_type": "mistral",
            "hidden_size": 4096,
            "intermediate_size": 14336,
            "num_hidden_layers": 32,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "vocab_size": 32768,
            "max_position_embeddings": 32768,
            "rms_norm_eps": 1e-5,
            "rope_theta": 1000000.0,
            "sliding_window": None,
            "tie_word_embeddings": False,
            "bos_token_id": 1,
            "eos_token_id": 2,
        },
    },
}


def for_device(device_kind: str) -> dict[str, dict[str, Any]]:
    """The architectures a runner of this kind accepts by name (a GPU also runs the CPU ones)."""
    if device_kind == "cpu":
        return dict(CPU_CATALOG)
    return {**CPU_CATALOG, **GPU_CATALOG}


def entry(name: str) -> dict[str, Any] | None:
    return CPU_CATALOG.get(name) or GPU_CATALOG.get(name)


def listing() -> list[dict[str, Any]]:
    """The catalog as the spec page lists it: name, device class, description, source, sizes."""
    rows = []
    for device_class, catalog in (("cpu", CPU_CATALOG), ("gpu", GPU_CATALOG)):
        for name, item in catalog.items():
            config = model_config.normalise([], name, item["config"])
            assert config is not None  # catalog entries are valid; the tests check each one
            rows.append(
                {
                    "name": name,
                    "device_class": device_class,
                    "model_type": config["model_type"],
                    "description": item["description"],
                    "source": item["source"],
                    "params": model_config.param_count(config),
                    "max_context": model_config.max_context(config),
                    "kv_bytes_per_token_bf16": model_config.kv_bytes_per_token(config, "bfloat16"),
                }
            )
    return rows
