"""fits(): which workloads a device refuses, and the reason it gives."""

from __future__ import annotations

from portfolio.runner.bench import fitting
from tests.runner.bench.helpers import BASE, CPU, GPU_24G, H100, INLINE, GiB, valid


def test_fits_refuses_oversize_with_the_reason() -> None:
    big = valid(
        {
            **BASE,
            "architecture": "llama-3.1-8b",
            "dtype": "bfloat16",
            "prompt_tokens": 8192,
            "output_tokens": 1024,
            "concurrency": [64],
            "requests": 64,
        }
    )
    ok, reason = fitting.fits(big, GPU_24G)
    assert not ok
    # 8.03e9 params x 2 B = 14.96 GiB of weights; KV 64 x 9216 tokens x 128 KiB = 72 GiB.
    assert "weights 14.96 GiB" in reason and "KV cache 72.00 GiB" in reason and "NVIDIA L4" in reason
    ok, reason = fitting.fits(big, H100)
    assert not ok and "KV cache 72.00 GiB" in reason
    small = valid(
        {
            **BASE,
            "architecture": "llama-3.1-8b",
            "dtype": "bfloat16",
            "prompt_tokens": 512,
            "output_tokens": 128,
            "concurrency": [1, 8],
            "requests": 16,
        }
    )
    ok, reason = fitting.fits(small, H100)
    assert ok, reason
    ok, reason = fitting.fits(small, GPU_24G)
    assert ok, reason


def test_fits_on_cpu() -> None:
    gpu_model = valid({**BASE, "architecture": "mistral-7b-v0.3"})
    ok, reason = fitting.fits(gpu_model, CPU)
    assert not ok and "GPU catalog" in reason
    ok, reason = fitting.fits(valid({**BASE, "dtype": "float16"}), CPU)
    assert not ok and "float16" in reason
    ok, reason = fitting.fits(valid(BASE), CPU)
    assert ok, reason
    wide = {
        **INLINE,
        "model_type": "llama",
        "hidden_size": 2048,
        "intermediate_size": 8192,
        "num_hidden_layers": 16,
        "num_attention_heads": 16,
        "num_key_value_heads": 4,
        "head_dim": 128,
    }
    ok, reason = fitting.fits(valid({**{k: v for k, v in BASE.items() if k != "architecture"}, "config": wide}), CPU)
    assert not ok and "M parameters" in reason
    long = valid(
        {
            **BASE,
            "architecture": "small-llama",
            "prompt_tokens": 2000,
            "output_tokens": 1000,
            "requests": 64,
            "concurrency": [1, 2, 4, 8],
        }
    )
    ok, reason = fitting.fits(long, {**CPU, "memory_bytes": 64 * GiB})
    assert not ok and "budget of" in reason and " s;" in reason
    ok, reason = fitting.fits(valid(BASE), {**CPU, "memory_bytes": 256 * 1024**2})
    assert not ok and "needs about" in reason
