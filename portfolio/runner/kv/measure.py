"""Measure the KV cache a real transformers model holds after a prefill. Runner env only.

torch and transformers are imported inside the functions, so the web app may import this module's
name without them (it never calls it).

`measure(config, batch_size, seq_len, dtype)`:

1. builds the architecture from the config dict with random weights
   (``AutoModelForCausalLM.from_config(cfg, dtype=...)``, seeded, eval mode; nothing is
   downloaded), at full size or from `catalog.reduce(config)`;
2. makes the cache from the same config (``DynamicCache(config=cfg)``: without the config,
   sliding-window layers are not trimmed) and runs one forward pass over random token ids of
   shape (batch_size, seq_len) with that cache;
3. adds ``numel * element_size`` over every layer's key and value tensors, and multiplies by the
   number of full-size layers each built layer stands for when the model was reduced.

Where it runs (`device`, `size`, `attention` = "auto"):

* CUDA when available: the full-size model with its own attention kernel, unless the weights
  would not fit comfortably (DeepSeek-V3, Llama 70B on one GPU), then the depth-only reduction
  (every layer at full width, fewer layers).
* CPU: the reduced model (`catalog.reduce`), and the attention kernel replaced by one that
  returns zeros ("skip"). Every other part of the forward runs as usual: projections, RoPE,
  norms, and the cache update, which transformers performs before it calls the kernel and which
  is all that decides the cache. The kernel's output only changes the hidden states' values,
  never a cache shape. On two CPU cores the real kernel is what makes long prompts slow (its
  cost grows with seq_len squared, and sliding-window masks are materialised), so skipping it is
  what lets the grader measure 8k-32k token cases in seconds. tests/runner/kv checks that
  both kernels give identical caches for every attention kind. Models whose attention does not
  go through transformers' attention interface (Falcon) always use their own kernel.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Mapping
from typing import Any

from portfolio.runner.kv import catalog, reference

SKIP_KERNEL = "kv_skip_attention"
SIZES = ("auto", "full", "reduced", "depth")
ATTENTIONS = ("auto", "model", "skip")
DEVICES = ("auto", "cpu", "cuda")
# On CUDA, build the full-size model only when its weights take at most this share of free memory.
GPU_WEIGHT_SHARE = 0.5


def _skip_attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, **kwargs: Any) -> Any:
    """Stands in for softmax(QK^T)V: zeros of the output's shape, [batch, q_len, q_heads, v_dim]."""
    batch, q_heads, q_len, _ = query.shape
    return value.new_zeros(batch, q_len, q_heads, value.shape[-1]), None


def _register_skip_kernel() -> None:
    from transformers import AttentionInterface

    # No mask function is registered under this name on purpose: transformers then builds no
    # attention mask at all (a [seq, seq] mask per layer type is the other long-prompt cost).
    AttentionInterface.register(SKIP_KERNEL, _skip_attention)


def torch_dtype(name: str) -> Any:
    import torch

    reference.dtype_bytes(name)  # refuses names outside float32/float16/bfloat16
    return getattr(torch, name)


def hf_config(config: Mapping[str, Any]) -> Any:
    """The transformers config object for a config.json dict."""
    from transformers import AutoConfig

    values = dict(config)
    kind = values.pop("model_type")
    return AutoConfig.for_model(kind, **values)


def versions() -> dict[str, str]:
    import torch
    import transformers

    return {
        "torch": str(torch.__version__),
        "transformers": str(transformers.__version__),
        "python": platform.python_version(),
    }


def _estimated_weight_bytes(config: Mapping[str, Any], dtype: str) -> int:
    """A generous over-estimate of the weights' size, to decide whether a GPU can hold the model."""
    hidden = int(config.get("hidden_size", 0))
    layers = int(config.get("num_hidden_layers", 0))
    heads = int(config.get("num_attention_heads", 1))
    dim = int(config.get("head_dim") or hidden // max(heads, 1))
    dim = max(dim, int(config.get("qk_nope_head_dim") or 0) + int(config.get("v_head_dim") or 0))
    attention = 4 * hidden * heads * dim
    dense = 3 * hidden * int(config.get("intermediate_size") or config.get("ffn_hidden_size") or 4 * hidden)
    experts = int(config.get("n_routed_experts") or 0) + int(config.get("n_shared_experts") or 0)
    moe = 3 * hidden * int(config.get("moe_intermediate_size") or 0) * experts
    per_layer = attention + max(dense, moe)
    embeddings = 2 * hidden * int(config.get("vocab_size", 0))
    return (layers * per_layer + embeddings) * reference.dtype_bytes(dtype)


def _choose(config: Mapping[str, Any], dtype: str, device: str, size: str, attention: str) -> tuple[str, str, str]:
    import torch

    if device not in DEVICES or size not in SIZES or attention not in ATTENTIONS:
        raise ValueError(f"device in {DEVICES}, size in {SIZES}, attention in {ATTENTIONS}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if size == "auto":
        if device == "cuda":
            _release_cuda_memory()  # the previous measurement's blocks would count as used
            free, _ = torch.cuda.mem_get_info()
            size = "full" if _estimated_weight_bytes(config, dtype) <= GPU_WEIGHT_SHARE * free else "depth"
        else:
            size = "reduced"
    if attention == "auto":
        attention = "model" if device == "cuda" else "skip"
    return device, size, attention


def _release_cuda_memory() -> None:
    import gc

    import torch

    gc.collect()
    torch.cuda.empty_cache()


def _layer_storage(layer: Any) -> int:
    """Bytes the layer's key and value tensors keep allocated (a view keeps its whole base)."""
    seen: dict[int, int] = {}
    for slot in ("keys", "values"):
        tensor = getattr(layer, slot, None)
        if tensor is not None:
            storage = tensor.untyped_storage()
            seen[storage.data_ptr()] = storage.nbytes()
    return sum(seen.values())


def measure(
    config: Mapping[str, Any],
    batch_size: int,
    seq_len: int,
    dtype: str,
    *,
    device: str = "auto",
    size: str = "auto",
    attention: str = "auto",
    seed: int = 0,
) -> dict[str, Any]:
    """The cache bytes of this config after a prefill, measured; see the module docstring.

    Returns a JSON-ready dict: "bytes" (the full model's cache bytes: each built layer's bytes
    times the number of full-size layers it stands for, "layer_counts"), "measured_bytes" (of the
    model actually built), "storage_bytes" (bytes the cache's tensors keep allocated, scaled the
    same way; see reference.py), "method", "device", "size", "attention", "layers" (per built
    cache layer: class, key and value shapes and dtypes, bytes, window, layers it stands for),
    "timing" (seconds), "versions", "config_sha256" and "built_config" (when reduced).
    """
    import torch
    from transformers import AutoModelForCausalLM, DynamicCache

    started = time.perf_counter()
    batch_size, seq_len = int(batch_size), int(seq_len)
    reference.layer_plan(config)  # refuses unsupported configs before building anything
    device, size, attention = _choose(config, dtype, device, size, attention)
    if size == "full":
        built = dict(config)
        counts = [1] * int(config["num_hidden_layers"])
    else:
        reduction = catalog.reduce(config, keep_width=(size == "depth"))
        built, counts = reduction["config"], list(reduction["layer_counts"])
    cfg = hf_config(built)
    model_class = AutoModelForCausalLM._model_mapping[type(cfg)]
    kernel = attention
    kwargs: dict[str, Any] = {"dtype": torch_dtype(dtype)}
    if attention == "skip" and getattr(model_class, "_supports_attention_backend", False):
        _register_skip_kernel()
        kwargs["attn_implementation"] = SKIP_KERNEL
    else:
        kernel = "model"

    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(cfg, **kwargs)
    model.eval()
    built_at = time.perf_counter()

    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, int(cfg.vocab_size), (batch_size, seq_len), generator=generator).to(device)
    cache = DynamicCache(config=cfg)
    with torch.inference_mode():
        out = model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
    if device == "cuda":
        torch.cuda.synchronize()
    prefilled_at = time.perf_counter()
    if out.past_key_values is not cache:
        raise RuntimeError("the model replaced the cache it was given; its bytes would not be the config's cache")

    layers: list[dict[str, Any]] = []
    for index, layer in enumerate(cache.layers):
        record: dict[str, Any] = {
            "index": index,
            "class": type(layer).__name__,
            "bytes": 0,
            "stands_for_layers": counts[index] if index < len(counts) else None,
        }
        for slot in ("keys", "values"):
            tensor = getattr(layer, slot, None)
            if tensor is None:
                record[slot] = None
                continue
            record[slot] = {"shape": list(tensor.shape), "dtype": str(tensor.dtype).removeprefix("torch.")}
            record["bytes"] += tensor.numel() * tensor.element_size()
        window = getattr(layer, "sliding_window", None)
        record["sliding_window"] = int(window) if window is not None else None
        layers.append(record)
    if len(layers) != int(cfg.num_hidden_layers) or len(layers) != len(counts):
        raise RuntimeError(f"the cache has {len(layers)} layers for a {cfg.num_hidden_layers}-layer model")

    measured = sum(record["bytes"] for record in layers)
    scaled = sum(record["bytes"] * count for record, count in zip(layers, counts, strict=True))
    storage_scaled = sum(_layer_storage(layer) * count for layer, count in zip(cache.layers, counts, strict=True))
    del out, model, cache, ids
    if device == "cuda":
        _release_cuda_memory()  # a full-size model is gigabytes: free them before the next one
    device_name = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
    kernel_text = "attention kernel skipped" if kernel == "skip" else "the model's attention kernel"
    if size == "full":
        scale_text = "full size"
    else:
        plural = "s" if len(layers) != 1 else ""
        scale_text = f"{size}: {len(layers)} layer{plural} standing for {'+'.join(map(str, counts))}"
    return {
        "bytes": scaled,
        "measured_bytes": measured,
        "storage_bytes": storage_scaled,
        "layer_counts": counts,
        "size": size,
        "device": device_name,
        "device_kind": device,
        "attention": kernel,
        "dtype": dtype,
        "batch_size": batch_size,
        "seq_len": seq_len,
        "method": f"transformers prefill with DynamicCache(config), {kernel_text}, {scale_text}, on {device_name}",
        "layers": layers,
        "timing": {
            "build_s": round(built_at - started, 4),
            "prefill_s": round(prefilled_at - built_at, 4),
            "total_s": round(time.perf_counter() - started, 4),
        },
        "versions": versions(),
        "config_sha256": catalog.config_sha256(config),
        "built_config": built if size != "full" else None,
    }
