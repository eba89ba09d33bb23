"""Real model configs for the KV cache grader, and `reduce`, which shrinks one for a CPU runner.

Standard library only (the web app imports it to show the configs on the spec page).

Each entry is a Hugging Face ``config.json`` as a plain dict, written from the values the model's
publisher put on the Hub (the `source` URL), keeping the keys that describe the architecture.
Left out on purpose: checkpoint-only keys that do not change the architecture built from the
config (``quantization_config`` of DeepSeek-V3, whose published weights are fp8 blocks: the
cache dtype is the compute dtype; ``auto_map``; ``transformers_version``). Where the published
file predates the ``layer_types`` key, the entry adds the list transformers 5.23 derives from
the published keys and says so in `added`; a runner-env test checks the derivation.

`reduce(config)` returns a much smaller config with one layer per distinct per-layer cache
signature, and how many full-size layers each stands for. What it keeps and why is in its
docstring.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from typing import Any, TypedDict

from portfolio.runner.kv import reference


class Entry(TypedDict):
    name: str
    title: str
    attention: str
    source: str
    notes: str
    added: list[str]
    config: dict[str, Any]


def _alternating(n_layers: int, period: int) -> list[str]:
    # The rule of Gemma2Config (period 2) and Gemma3TextConfig (sliding_window_pattern).
    return [reference.SLIDING if (i + 1) % period else reference.FULL for i in range(n_layers)]


_LLAMA3_ROPE = {
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3",
}

_ENTRIES: list[Entry] = [
    {
        "name": "llama-3.1-8b",
        "title": "Llama 3.1 8B",
        "attention": "GQA (32 query heads, 8 KV heads)",
        "source": "https://huggingface.co/meta-llama/Llama-3.1-8B/blob/main/config.json",
        "notes": "No head_dim key: head_dim = 4096 / 32 = 128.",
        "added": [],
        "config": {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "attention_bias": False,
            "attention_dropout": 0.0,
            "bos_token_id": 128000,
            "eos_token_id": 128001,
            "hidden_act": "silu",
            "hidden_size": 4096,
            "initializer_range": 0.02,
            "intermediate_size": 14336,
            "max_position_embeddings": 131072,
            "mlp_bias": False,
            "num_attention_heads": 32,
            "num_hidden_layers": 32,
            "num_key_value_heads": 8,
            "pretraining_tp": 1,
            "rms_norm_eps": 1e-05,
            "rope_scaling": dict(_LLAMA3_ROPE),
            "rope_theta": 500000.0,
            "tie_word_embeddings": False,
            "torch_dtype": "bfloat16",
            "use_cache": True,
            "vocab_size": 128256,
        },
    },
    {
        "name": "llama-3.1-70b",
        "title": "Llama 3.1 70B",
        "attention": "GQA (64 query heads, 8 KV heads)",
        "source": "https://huggingface.co/meta-llama/Llama-3.1-70B/blob/main/config.json",
        "notes": "80 layers; head_dim = 8192 / 64 = 128.",
        "added": [],
        "config": {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "attention_bias": False,
            "attention_dropout": 0.0,
            "bos_token_id": 128000,
            "eos_token_id": 128001,
            "hidden_act": "silu",
            "hidden_size": 8192,
            "initializer_range": 0.02,
            "intermediate_size": 28672,
            "max_position_embeddings": 131072,
            "mlp_bias": False,
            "num_attention_heads": 64,
            "num_hidden_layers": 80,
            "num_key_value_heads": 8,
            "pretraining_tp": 1,
            "rms_norm_eps": 1e-05,
            "rope_scaling": dict(_LLAMA3_ROPE),
            "rope_theta": 500000.0,
            "tie_word_embeddings": False,
            "torch_dtype": "bfloat16",
            "use_cache": True,
            "vocab_size": 128256,
        },
    },
    {
        "name": "llama-3.2-3b",
        "title": "Llama 3.2 3B",
        "attention": "GQA (24 query heads, 8 KV heads)",
        "source": "https://huggingface.co/meta-llama/Llama-3.2-3B/blob/main/config.json",
        "notes": "Publishes head_dim 128 (= 3072 / 24).",
        "added": [],
        "config": {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "attention_bias": False,
            "attention_dropout": 0.0,
            "bos_token_id": 128000,
            "eos_token_id": 128001,
            "head_dim": 128,
            "hidden_act": "silu",
            "hidden_size": 3072,
            "initializer_range": 0.02,
            "intermediate_size": 8192,
            "max_position_embeddings": 131072,
            "mlp_bias": False,
            "num_attention_heads": 24,
            "num_hidden_layers": 28,
            "num_key_value_heads": 8,
            "pretraining_tp": 1,
            "rms_norm_eps": 1e-05,
            "rope_scaling": {
                "factor": 32.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 8192,
                "rope_type": "llama3",
            },
            "rope_theta": 500000.0,
            "tie_word_embeddings": True,
            "torch_dtype": "bfloat16",
            "use_cache": True,
            "vocab_size": 128256,
        },
    },
    {
        "name": "llama-2-7b",
        "title": "Llama 2 7B",
        "attention": "MHA (32 heads, 32 KV heads)",
        "source": "https://huggingface.co/meta-llama/Llama-2-7b-hf/blob/main/config.json",
        "notes": "Classic multi-head attention: every query head has its own key and value.",
        "added": [],
        "config": {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "bos_token_id": 1,
            "eos_token_id": 2,
            "hidden_act": "silu",
            "hidden_size": 4096,
            "initializer_range": 0.02,
            "intermediate_size": 11008,
            "max_position_embeddings": 4096,
            "num_attention_heads": 32,
            "num_hidden_layers": 32,
            "num_key_value_heads": 32,
            "pretraining_tp": 1,
            "rms_norm_eps": 1e-05,
            "rope_scaling": None,
            "tie_word_embeddings": False,
            "torch_dtype": "float16",
            "use_cache": True,
            "vocab_size": 32000,
        },
    },
    {
        "name": "mistral-7b-v0.1",
        "title": "Mistral 7B v0.1",
        "attention": "GQA (32 query heads, 8 KV heads), sliding window 4096 on every layer",
        "source": "https://huggingface.co/mistralai/Mistral-7B-v0.1/blob/main/config.json",
        "notes": "Every layer slides: past 4095 cached tokens the cache stops growing.",
        "added": [],
        "config": {
            "architectures": ["MistralForCausalLM"],
            "model_type": "mistral",
            "bos_token_id": 1,
            "eos_token_id": 2,
            "hidden_act": "silu",
            "hidden_size": 4096,
            "initializer_range": 0.02,
            "intermediate_size": 14336,
            "max_position_embeddings": 32768,
            "num_attention_heads": 32,
            "num_hidden_layers": 32,
            "num_key_value_heads": 8,
            "rms_norm_eps": 1e-05,
            "rope_theta": 10000.0,
            "sliding_window": 4096,
            "tie_word_embeddings": False,
            "torch_dtype": "bfloat16",
            "use_cache": True,
            "vocab_size": 32000,
        },
    },
    {
        "name": "qwen2.5-7b",
        "title": "Qwen2.5 7B",
        "attention": "GQA (28 query heads, 4 KV heads)",
        "source": "https://huggingface.co/Qwen/Qwen2.5-7B/blob/main/config.json",
        "notes": "sliding_window is present but use_sliding_window is false: every layer is full attention.",
        "added": [],
        "config": {
            "architectures": ["Qwen2ForCausalLM"],
            "model_type": "qwen2",
            "attention_dropout": 0.0,
            "bos_token_id": 151643,
            "eos_token_id": 151643,
            "hidden_act": "silu",
            "hidden_size": 3584,
            "initializer_range": 0.02,
            "intermediate_size": 18944,
            "max_position_embeddings": 131072,
            "max_window_layers": 28,
            "num_attention_heads": 28,
            "num_hidden_layers": 28,
            "num_key_value_heads": 4,
            "rms_norm_eps": 1e-06,
            "rope_theta": 1000000.0,
            "sliding_window": 131072,
            "tie_word_embeddings": False,
            "torch_dtype": "bfloat16",
            "use_cache": True,
            "use_sliding_window": False,
            "vocab_size": 152064,
        },
    },
    {
        "name": "gemma-2-9b",
        "title": "Gemma 2 9B",
        "attention": "GQA (16 query heads, 8 KV heads), hybrid: sliding window 4096 and full layers alternate",
        "source": "https://huggingface.co/google/gemma-2-9b/blob/main/config.json",
        "notes": "head_dim 256 while hidden_size / num_attention_heads = 224.",
        "added": ["layer_types"],
        "config": {
            "architectures": ["Gemma2ForCausalLM"],
            "model_type": "gemma2",
            "attention_bias": False,
            "attention_dropout": 0.0,
            "attn_logit_softcapping": 50.0,
            "bos_token_id": 2,
            "cache_implementation": "hybrid",
            "eos_token_id": 1,
            "final_logit_softcapping": 30.0,
            "head_dim": 256,
            "hidden_activation": "gelu_pytorch_tanh",
            "hidden_size": 3584,
            "initializer_range": 0.02,
            "intermediate_size": 14336,
            "layer_types": _alternating(42, 2),
            "max_position_embeddings": 8192,
            "num_attention_heads": 16,
            "num_hidden_layers": 42,
            "num_key_value_heads": 8,
            "pad_token_id": 0,
            "query_pre_attn_scalar": 256,
            "rms_norm_eps": 1e-06,
            "rope_theta": 10000.0,
            "sliding_window": 4096,
            "torch_dtype": "float32",
            "use_cache": True,
            "vocab_size": 256000,
        },
    },
    {
        "name": "gemma-3-1b",
        "title": "Gemma 3 1B",
        "attention": "MQA (4 query heads, 1 KV head), hybrid: 5 sliding (window 512) : 1 full",
        "source": "https://huggingface.co/google/gemma-3-1b-pt/blob/main/config.json",
        "notes": (
            "head_dim 256 while hidden_size / num_attention_heads = 288. 26 layers with a pattern of 6: "
            "layers 5, 11, 17 and 23 are full, the other 22 slide."
        ),
        "added": ["layer_types"],
        "config": {
            "architectures": ["Gemma3ForCausalLM"],
            "model_type": "gemma3_text",
            "attention_bias": False,
            "attention_dropout": 0.0,
            "attn_logit_softcapping": None,
            "bos_token_id": 2,
            "cache_implementation": "hybrid",
            "eos_token_id": 1,
            "final_logit_softcapping": None,
            "head_dim": 256,
            "hidden_activation": "gelu_pytorch_tanh",
            "hidden_size": 1152,
            "initializer_range": 0.02,
            "intermediate_size": 6912,
            "layer_types": _alternating(26, 6),
            "max_position_embeddings": 32768,
            "num_attention_heads": 4,
            "num_hidden_layers": 26,
            "num_key_value_heads": 1,
            "pad_token_id": 0,
            "query_pre_attn_scalar": 256,
            "rms_norm_eps": 1e-06,
            "rope_local_base_freq": 10000.0,
            "rope_scaling": None,
            "rope_theta": 1000000.0,
            "sliding_window": 512,
            "sliding_window_pattern": 6,
            "torch_dtype": "bfloat16",
            "use_cache": True,
            "vocab_size": 262144,
        },
    },
    {
        "name": "deepseek-v3",
        "title": "DeepSeek-V3 (671B MoE)",
        "attention": "MLA (128 heads share one compressed latent: kv_lora_rank 512 + rope 64)",
        "source": "https://huggingface.co/deepseek-ai/DeepSeek-V3/blob/main/config.json",
        "notes": (
            "Multi-head latent attention caches the compressed latent, not per-head keys and values. "
            "quantization_config (fp8 weight blocks) is left out: it does not change the cache."
        ),
        "added": [],
        "config": {
            "architectures": ["DeepseekV3ForCausalLM"],
            "model_type": "deepseek_v3",
            "attention_bias": False,
            "attention_dropout": 0.0,
            "bos_token_id": 0,
            "eos_token_id": 1,
            "first_k_dense_replace": 3,
            "hidden_act": "silu",
            "hidden_size": 7168,
            "initializer_range": 0.02,
            "intermediate_size": 18432,
            "kv_lora_rank": 512,
            "max_position_embeddings": 163840,
            "moe_intermediate_size": 2048,
            "moe_layer_freq": 1,
            "n_group": 8,
            "n_routed_experts": 256,
            "n_shared_experts": 1,
            "norm_topk_prob": True,
            "num_attention_heads": 128,
            "num_experts_per_tok": 8,
            "num_hidden_layers": 61,
            "num_key_value_heads": 128,
            "num_nextn_predict_layers": 1,
            "q_lora_rank": 1536,
            "qk_nope_head_dim": 128,
            "qk_rope_head_dim": 64,
            "rms_norm_eps": 1e-06,
            "rope_scaling": {
                "beta_fast": 32,
                "beta_slow": 1,
                "factor": 40,
                "mscale": 1.0,
                "mscale_all_dim": 1.0,
                "original_max_position_embeddings": 4096,
                "type": "yarn",
            },
            "rope_theta": 10000,
            "routed_scaling_factor": 2.5,
            "scoring_func": "sigmoid",
            "tie_word_embeddings": False,
            "topk_group": 4,
            "topk_method": "noaux_tc",
            "torch_dtype": "bfloat16",
            "use_cache": True,
            "v_head_dim": 128,
            "vocab_size": 129280,
        },
    },
    {
        "name": "falcon-7b",
        "title": "Falcon 7B",
        "attention": "MQA (71 query heads, 1 KV head)",
        "source": "https://huggingface.co/tiiuae/falcon-7b/blob/main/config.json",
        "notes": "No num_key_value_heads key: multi_query true means a single KV head; head_dim = 4544 / 71 = 64.",
        "added": [],
        "config": {
            "architectures": ["FalconForCausalLM"],
            "model_type": "falcon",
            "alibi": False,
            "apply_residual_connection_post_layernorm": False,
            "attention_dropout": 0.0,
            "bias": False,
            "bos_token_id": 11,
            "eos_token_id": 11,
            "hidden_dropout": 0.0,
            "hidden_size": 4544,
            "initializer_range": 0.02,
            "layer_norm_epsilon": 1e-05,
            "multi_query": True,
            "new_decoder_architecture": False,
            "num_attention_heads": 71,
            "num_hidden_layers": 32,
            "parallel_attn": True,
            "torch_dtype": "bfloat16",
            "use_cache": True,
            "vocab_size": 65024,
        },
    },
]

CATALOG: dict[str, Entry] = {entry["name"]: entry for entry in _ENTRIES}


def names() -> list[str]:
    return [entry["name"] for entry in _ENTRIES]


def entry(name: str) -> Entry:
    """A deep copy of one catalog entry (callers may change it freely)."""
    try:
        return copy.deepcopy(CATALOG[name])
    except KeyError:
        raise KeyError(f"no catalog config named {name!r} (known: {', '.join(names())})") from None


def get_config(name: str) -> dict[str, Any]:
    return entry(name)["config"]


def config_sha256(config: Mapping[str, Any]) -> str:
    """A stable hash of a config dict (sorted keys, no whitespace)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()


# What `reduce` sets when it shrinks a model's width. None of these reaches the cache.
SMALL_HIDDEN = 8
SMALL_INTERMEDIATE = 16
SMALL_VOCAB = 256
_TOKEN_ID_KEYS = ("bos_token_id", "eos_token_id", "pad_token_id")


def _depth_plan(plan: list[reference.LayerSpec]) -> tuple[list[reference.LayerSpec], list[int]]:
    """One layer for each distinct per-layer cache signature, in order of first appearance, and
    how many layers of the full model each one stands for."""
    kept: list[reference.LayerSpec] = []
    counts: list[int] = []
    for spec in plan:
        for index, other in enumerate(kept):
            if other.signature() == spec.signature():
                counts[index] += 1
                break
        else:
            kept.append(spec)
            counts.append(1)
    return kept, counts


def reduce(config: Mapping[str, Any], *, keep_width: bool = False) -> dict[str, Any]:
    """A config with the same per-layer caches and fewer layers, and how to scale its bytes back.

    What decides a layer's cache bytes for given batch, length and dtype is its signature: the
    kind (full, sliding, MLA latent), KV heads, key and value sizes (head_dim, or kv_lora_rank
    and qk_rope_head_dim) and window; nothing else about the layer or its position in the stack
    reaches the cache. So the reduced model keeps one layer per distinct signature, each exactly
    as in the full model, and "layer_counts" says how many full-size layers each one stands for:
    full-size bytes = sum over reduced layers of (measured layer bytes x count). Examples: Llama
    3.1 8B, 32 identical layers -> 1 layer, counts [32]; Gemma 2 9B -> [sliding, full], counts
    [21, 21]; Gemma 3 1B -> [sliding, full], counts [22, 4] (26 layers are not a whole number of
    its 6-layer periods, so no single factor fits a shorter stack of its own pattern);
    DeepSeek-V3 -> 1 latent layer, counts [61]. "layer_scale" is the single factor when every
    count is equal, else None. tests/runner/kv measures full-depth models against this.

    Unless keep_width, it also shrinks what the cache does not depend on: hidden_size (head_dim
    is then written explicitly, so it no longer follows from hidden_size), query heads down to
    the KV heads (the smallest count transformers allows; for MLA, one head), intermediate and
    MoE sizes, the number of routed experts (and every kept layer made dense), q_lora_rank,
    vocab_size, and token ids that would fall outside the smaller vocabulary. MLA keeps
    qk_nope_head_dim and v_head_dim: they do not reach the latent cache, but they would if a
    transformers version cached expanded keys and values again, and they are cheap at one head.
    Falcon has no head_dim key (its head_dim is hidden_size / heads), so its hidden size becomes
    head_dim times the query heads kept.

    keep_width=True shrinks only depth and MoE experts; it is for a GPU that cannot hold all
    the layers of a large model at full width.
    """
    plan = reference.layer_plan(config)
    kind = reference.model_type(config)
    kept, counts = _depth_plan(plan)
    small: dict[str, Any] = copy.deepcopy(dict(config))
    small["num_hidden_layers"] = len(kept)
    if kind in ("gemma2", "gemma3_text") or "layer_types" in small or (len(kept) > 1 and kind == "qwen2"):
        small["layer_types"] = [spec.kind for spec in kept]
    if kind == "deepseek_v3":
        # Dense MLPs in the kept layers; experts shrunk in case a caller sets the layer back to MoE.
        small["first_k_dense_replace"] = len(kept)
        small.update(n_routed_experts=4, num_experts_per_tok=2, n_group=1, topk_group=1, n_shared_experts=1)
    if not keep_width:
        _shrink_width(small, kind, plan[0])
    after = reference.layer_plan(small)
    if [s.signature() for s in after] != [s.signature() for s in kept]:
        raise AssertionError("reduce changed a per-layer cache signature")  # a bug here, not in the config
    preserved = {
        "layer_signatures": [list(s.signature()) for s in kept],
        "kv_heads": plan[0].k_heads,
        "key_dim": plan[0].k_dim,
        "value_dim": plan[0].v_dim,
        "windows": sorted({s.window for s in plan if s.window is not None}),
    }
    changed = {
        key: [config.get(key), small.get(key)]
        for key in sorted(set(config) | set(small))
        if config.get(key) != small.get(key) or (key in config) != (key in small)
    }
    return {
        "config": small,
        "layer_counts": counts,
        "layer_scale": counts[0] if len(set(counts)) == 1 else None,
        "layers": len(kept),
        "full_layers": len(plan),
        "preserved": preserved,
        "changed": changed,
        "keep_width": keep_width,
    }


def _shrink_width(small: dict[str, Any], kind: str, first: reference.LayerSpec) -> None:
    if kind == "deepseek_v3":
        heads = 1
        small.update(num_attention_heads=1, num_key_value_heads=1, q_lora_rank=SMALL_HIDDEN)
        small["moe_intermediate_size"] = SMALL_INTERMEDIATE
    elif kind == "falcon":
        if small.get("new_decoder_architecture"):
            heads = int(small["num_attention_heads"])  # the cache holds one K/V per query head
        else:
            heads = first.k_heads  # 1 for multi_query, all heads for Falcon's MHA layout
            small["num_attention_heads"] = heads
            if "num_kv_heads" in small and small["num_kv_heads"] is not None:
                small["num_kv_heads"] = heads
        small["hidden_size"] = first.k_dim * heads
        small["ffn_hidden_size"] = SMALL_INTERMEDIATE
    else:
        heads = first.k_heads
        small["head_dim"] = first.k_dim
        small["num_attention_heads"] = heads
        small["num_key_value_heads"] = heads
    if kind != "falcon":
        # A multiple of the query heads: several config classes insist on it.
        small["hidden_size"] = heads * max(1, -(-SMALL_HIDDEN // heads))
        small["intermediate_size"] = SMALL_INTERMEDIATE
    small["vocab_size"] = SMALL_VOCAB
    for key in _TOKEN_ID_KEYS:
        small.pop(key, None)
