"""Model config normalisation (inline configs) and the KV-bytes formula."""

from __future__ import annotations

from typing import Any

import pytest

from portfolio.runner.bench import model_config
from tests.runner.bench.helpers import BASE, INLINE, paths, valid


def test_inline_config_is_normalised_explicitly() -> None:
    norm = valid(
        {
            **{k: v for k, v in BASE.items() if k != "architecture"},
            "config": {**INLINE, "torch_dtype": "bfloat16", "architectures": ["X"]},
        }
    )
    cfg = norm["config"]
    assert norm["architecture"] is None
    assert cfg["head_dim"] == 48 and cfg["tie_word_embeddings"] is False and cfg["attention_bias"] is False
    assert "torch_dtype" not in cfg and "architectures" not in cfg  # the spec's dtype wins


@pytest.mark.parametrize(
    ("config", "path"),
    [
        ({**INLINE, "model_type": "mixtral"}, "config.model_type"),
        ({k: v for k, v in INLINE.items() if k != "hidden_size"}, "config.hidden_size"),
        ({**INLINE, "num_key_value_heads": 3}, "config.num_key_value_heads"),
        ({**INLINE, "vocab_size": "big"}, "config.vocab_size"),
        ({**INLINE, "model_type": "mistral", "sliding_window": 4096}, "config.sliding_window"),
        ({**INLINE, "use_sliding_window": True}, "config.use_sliding_window"),
        ("llama", "config"),
    ],
)
def test_invalid_inline_config(config: Any, path: str) -> None:
    doc = {k: v for k, v in BASE.items() if k != "architecture"}
    assert path in paths({**doc, "config": config})


def test_kv_bytes_per_token_formula() -> None:
    llama8b = valid({**BASE, "architecture": "llama-3.1-8b", "dtype": "bfloat16"})["config"]
    assert model_config.kv_bytes_per_token(llama8b, "bfloat16") == 2 * 32 * 8 * 128 * 2 == 131072
    gpt2 = valid({**BASE, "architecture": "tiny-gpt2"})["config"]
    assert model_config.kv_bytes_per_token(gpt2, "float32") == 2 * 4 * 256 * 4
