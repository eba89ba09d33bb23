"""The analytic KV cache size: what the grader's measurement counts, computed from a config dict.

Standard library only: the web app imports this module to show the public example values, and
the grader's tests check it against measurement (`measure.py`) for every attention kind.

The quantity (see `SEMANTICS` for the text shown to learners): after one forward pass over
`seq_len` tokens for each of `batch_size` sequences, with the cache transformers 5.23 builds from
the config (``DynamicCache(config=cfg)``), the sum over every cached key and value tensor of
``numel * element_size``. Per layer that is

    batch_size * positions(layer) * (k_heads * k_dim + v_heads * v_dim) * bytes_per_element

with, for the layer kinds transformers 5.23 has for the supported model types:

* full attention: positions = seq_len; k_heads = v_heads = the KV heads; k_dim = v_dim = head_dim.
* sliding-window attention: positions = min(seq_len, window - 1). `DynamicSlidingWindowLayer`
  keeps the last ``window - 1`` tokens after an update (the token being generated completes
  the window), verified by measurement in tests/runner/kv.
* MLA latent (DeepSeek-V3): transformers 5.23 caches the compressed latent, not per-head keys
  and values: the "keys" slot holds ``kv_lora_rank`` elements and the "values" slot holds the
  shared rotary key of ``qk_rope_head_dim`` elements, each with a single head. Older versions
  (4.5x) cached expanded per-head K and V; the measurement is what decides, and the tests pin it.

How a config dict is read mirrors the transformers 5.23 config classes, including their defaults
for keys a config leaves out (`_MODEL_DEFAULTS`); a model type outside `SUPPORTED_MODEL_TYPES`
is refused rather than guessed.

Bytes counted are the logical size of the cached tensors. Right after a prefill longer than the
window, a sliding layer's tensors are views into the full-length tensor of that step, so the
allocator still holds ``seq_len`` positions until the next step replaces them; `measure.py`
records that storage figure separately, and the grade uses the logical one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DTYPE_BYTES: dict[str, int] = {"float32": 4, "float16": 2, "bfloat16": 2}

SUPPORTED_MODEL_TYPES = (
    "llama",
    "mistral",
    "qwen2",
    "gemma2",
    "gemma3_text",
    "falcon",
    "deepseek_v3",
)

FULL = "full_attention"
SLIDING = "sliding_attention"
LATENT = "mla_latent"

# Defaults of the transformers 5.23 config classes for the keys that change the cache, used when
# a config dict leaves the key out (an explicit null is read as null). A test in tests/runner/kv
# drops each key in turn and checks the reading against the real config class.
_MISSING = object()
_MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "llama": {"num_key_value_heads": None, "head_dim": None},
    "mistral": {"num_key_value_heads": 8, "head_dim": None, "sliding_window": 4096},
    "qwen2": {
        "num_key_value_heads": 32,
        "head_dim": None,
        "sliding_window": 4096,
        "use_sliding_window": False,
        "max_window_layers": 28,
    },
    "gemma2": {"num_key_value_heads": 4, "head_dim": 256, "sliding_window": 4096},
    "gemma3_text": {
        "num_key_value_heads": 4,
        "head_dim": 256,
        "sliding_window": 4096,
        "sliding_window_pattern": 6,
    },
    "falcon": {"num_kv_heads": None, "multi_query": True, "new_decoder_architecture": False},
    "deepseek_v3": {"kv_lora_rank": 512, "qk_rope_head_dim": 64},
}

SEMANTICS = """\
What is measured. The model is built from the config with random weights, a cache is made from
the same config (transformers 5.23, DynamicCache(config=...)), and one forward pass (a prefill)
runs over seq_len tokens for each of batch_size sequences. The answer is the number of bytes in
the key and value tensors the cache holds afterwards: elements times bytes per element
(float32: 4, float16 and bfloat16: 2). Weights, activations and allocator overhead do not count.

Per layer and per sequence, a layer holds `positions` cached tokens, and for each of them:
- standard attention (MHA, GQA, MQA): a key and a value for every KV head, so
  2 x kv_heads x head_dim elements;
- DeepSeek-V3 multi-head latent attention (MLA): one compressed latent of kv_lora_rank elements
  plus one shared rotary key of qk_rope_head_dim elements, for all heads together (no factor 2,
  no head count).

Reading the config:
- kv_heads is num_key_value_heads; without it, num_attention_heads (plain multi-head attention).
  Falcon configs say multi_query: true for a single KV head (new_decoder_architecture: the
  Falcon-40B layout, where transformers caches one key and value per query head).
- head_dim is the config's head_dim when it has one (Gemma's is 256, not hidden_size /
  num_attention_heads); otherwise hidden_size / num_attention_heads.
- positions is seq_len for a full-attention layer. A sliding-window layer keeps the most recent
  window - 1 tokens, so min(seq_len, sliding_window - 1): after the prefill, the next token
  completes the window. Counting window instead of window - 1 changes the answer by less than
  0.1% for the windows used here, well inside the tolerance.
- Which layers slide: layer_types when the config lists them. Otherwise Mistral slides on every
  layer when sliding_window is set; Qwen2 only when use_sliding_window is true (and then only
  from layer max_window_layers on); Gemma 2 alternates sliding and full, starting with sliding;
  Gemma 3 makes every sliding_window_pattern-th layer full (6: five local layers, then one
  global).

max_concurrency(config, seq_len, dtype, kv_budget_bytes) is the number of sequences of seq_len
tokens whose caches fit in the budget at once: kv_budget_bytes // (the cache bytes of one
sequence). No paging blocks, no fragmentation, no reserve.

A value passes when it is within 1% of the measured bytes (relative error
|observed - expected| / expected <= 0.01); the same rule applies to max_concurrency.
"""


class UnsupportedConfig(ValueError):
    """The config names a model type, or a feature, whose cache layout this module does not know."""


@dataclass(frozen=True)
class LayerSpec:
    """What one layer's cache holds per sequence and per cached position."""

    kind: str  # FULL, SLIDING or LATENT
    k_heads: int
    k_dim: int
    v_heads: int
    v_dim: int
    window: int | None = None

    def positions(self, seq_len: int) -> int:
        if self.kind == SLIDING:
            assert self.window is not None
            return min(seq_len, self.window - 1)
        return seq_len

    def elements_per_position(self) -> int:
        return self.k_heads * self.k_dim + self.v_heads * self.v_dim

    def signature(self) -> tuple[str, int, int, int, int, int | None]:
        return (self.kind, self.k_heads, self.k_dim, self.v_heads, self.v_dim, self.window)


def dtype_bytes(dtype: str) -> int:
    try:
        return DTYPE_BYTES[dtype]
    except (KeyError, TypeError):
        raise ValueError(f"dtype must be one of {', '.join(DTYPE_BYTES)}, got {dtype!r}") from None


def _value(config: Mapping[str, Any], key: str, model_type: str) -> Any:
    if key in config:
        return config[key]
    default = _MODEL_DEFAULTS.get(model_type, {}).get(key, _MISSING)
    if default is _MISSING:
        raise UnsupportedConfig(f"config has no {key!r}")
    return default


def _positive_int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UnsupportedConfig(f"{key} must be a positive integer, got {value!r}")
    return value


def _required(config: Mapping[str, Any], key: str) -> int:
    if key not in config:
        raise UnsupportedConfig(f"config has no {key!r}")
    return _positive_int(config[key], key)


def model_type(config: Mapping[str, Any]) -> str:
    kind = config.get("model_type")
    if kind not in SUPPORTED_MODEL_TYPES:
        raise UnsupportedConfig(f"model_type {kind!r} is not supported (supported: {', '.join(SUPPORTED_MODEL_TYPES)})")
    return str(kind)


def layer_types(config: Mapping[str, Any]) -> list[str]:
    """FULL or SLIDING for every layer, as transformers 5.23 decides it (LATENT for MLA models)."""
    kind = model_type(config)
    n_layers = _required(config, "num_hidden_layers")
    if kind == "deepseek_v3":
        return [LATENT] * n_layers
    if kind == "falcon":
        return [FULL] * n_layers
    explicit = config.get("layer_types")
    if kind == "mistral" and explicit is None:
        # MistralConfig has no layer_types field: its cache slides on every layer whenever a
        # window is set (transformers warns and keeps a layer_types kwarg as a plain attribute,
        # which the cache would then follow).
        window = _value(config, "sliding_window", kind)
        return [SLIDING if window is not None else FULL] * n_layers
    if kind == "qwen2" and explicit is None:
        window = _value(config, "sliding_window", kind) if _value(config, "use_sliding_window", kind) else None
        start = _value(config, "max_window_layers", kind)
        return [SLIDING if window is not None and i >= start else FULL for i in range(n_layers)]
    if explicit is None:
        if kind == "gemma2":
            return [SLIDING if (i + 1) % 2 else FULL for i in range(n_layers)]
        if kind == "gemma3_text":
            pattern = _positive_int(_value(config, "sliding_window_pattern", kind), "sliding_window_pattern")
            return [SLIDING if (i + 1) % pattern else FULL for i in range(n_layers)]
        # llama: no sliding layers unless a window is set (the cache then slides every layer).
        return [SLIDING if config.get("sliding_window") is not None else FULL] * n_layers
    if not isinstance(explicit, list) or len(explicit) != n_layers:
        raise UnsupportedConfig("layer_types must be a list with one entry per layer")
    unknown = sorted({t for t in explicit if t not in (FULL, SLIDING)})
    if unknown:
        raise UnsupportedConfig(f"layer type {unknown[0]!r} is not supported")
    return list(explicit)


def _window(config: Mapping[str, Any], kind: str) -> int | None:
    if kind == "qwen2" and not _value(config, "use_sliding_window", kind):
        return None
    if kind == "gemma3_text" and config.get("use_bidirectional_attention"):
        raise UnsupportedConfig("use_bidirectional_attention is not supported")
    if kind in ("falcon", "deepseek_v3"):
        return None
    window = _value(config, "sliding_window", kind) if kind != "llama" else config.get("sliding_window")
    if window is None:
        return None
    window = _positive_int(window, "sliding_window")
    if window < 2:
        # transformers slices [-window + 1:], which keeps everything for a window of 1.
        raise UnsupportedConfig("sliding_window must be at least 2")
    return window


def kv_heads(config: Mapping[str, Any]) -> int:
    """The number of key (and value) heads the cache holds per attention layer."""
    kind = model_type(config)
    heads = _required(config, "num_attention_heads")
    if kind == "falcon":
        if _value(config, "new_decoder_architecture", kind):
            # transformers broadcasts the grouped keys to every query head before the cache.
            return heads
        if _value(config, "multi_query", kind):
            return 1
        kv = _value(config, "num_kv_heads", kind)
        return heads if kv is None else _positive_int(kv, "num_kv_heads")
    if kind == "deepseek_v3":
        return 1
    kv = _value(config, "num_key_value_heads", kind)
    return heads if kv is None else _positive_int(kv, "num_key_value_heads")


def head_dim(config: Mapping[str, Any]) -> int:
    """The per-head size of a cached key or value (standard attention)."""
    kind = model_type(config)
    heads = _required(config, "num_attention_heads")
    if kind == "falcon":
        # FalconConfig.head_dim is a property: any head_dim key in the dict is ignored.
        return _required(config, "hidden_size") // heads
    explicit = _value(config, "head_dim", kind)
    if explicit:
        # qwen2 reads `getattr(config, "head_dim", None) or hidden // heads`: 0 and null fall back.
        return _positive_int(explicit, "head_dim")
    return _required(config, "hidden_size") // heads


def layer_plan(config: Mapping[str, Any]) -> list[LayerSpec]:
    """One LayerSpec per cache layer, in layer order."""
    kind = model_type(config)
    types = layer_types(config)
    if kind == "deepseek_v3":
        latent = _positive_int(_value(config, "kv_lora_rank", kind), "kv_lora_rank")
        rope = _positive_int(_value(config, "qk_rope_head_dim", kind), "qk_rope_head_dim")
        return [LayerSpec(LATENT, 1, latent, 1, rope) for _ in types]
    heads, dim = kv_heads(config), head_dim(config)
    window = _window(config, kind) if SLIDING in types else None
    if SLIDING in types and window is None:
        raise UnsupportedConfig("layer_types has sliding layers but sliding_window is not set")
    return [LayerSpec(t, heads, dim, heads, dim, window if t == SLIDING else None) for t in types]


def _check_counts(batch_size: Any, seq_len: Any) -> tuple[int, int]:
    for name, value in (("batch_size", batch_size), ("seq_len", seq_len)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return batch_size, seq_len


def layer_bytes(config: Mapping[str, Any], batch_size: int, seq_len: int, dtype: str) -> list[int]:
    """Cache bytes of each layer, in layer order."""
    batch_size, seq_len = _check_counts(batch_size, seq_len)
    size = dtype_bytes(dtype)
    return [batch_size * spec.positions(seq_len) * spec.elements_per_position() * size for spec in layer_plan(config)]


def kv_cache_bytes(config: Mapping[str, Any], batch_size: int, seq_len: int, dtype: str) -> int:
    """Bytes of keys and values the cache holds after a prefill of seq_len tokens per sequence."""
    return sum(layer_bytes(config, batch_size, seq_len, dtype))


def max_concurrency(config: Mapping[str, Any], seq_len: int, dtype: str, kv_budget_bytes: int) -> int:
    """How many sequences of seq_len tokens fit their caches in kv_budget_bytes together."""
    if isinstance(kv_budget_bytes, bool) or not isinstance(kv_budget_bytes, int) or kv_budget_bytes < 0:
        raise ValueError(f"kv_budget_bytes must be a non-negative integer, got {kv_budget_bytes!r}")
    return kv_budget_bytes // kv_cache_bytes(config, 1, seq_len, dtype)


def concurrency_from_bytes(one_sequence_bytes: int, kv_budget_bytes: int) -> int:
    """max_concurrency given the (measured) cache bytes of one sequence."""
    if one_sequence_bytes <= 0:
        raise ValueError("one_sequence_bytes must be positive")
    return kv_budget_bytes // one_sequence_bytes


def attention_kind(config: Mapping[str, Any]) -> str:
    """A short label: MHA, GQA, MQA or MLA, with the sliding-window layout when there is one."""
    plan = layer_plan(config)
    if plan[0].kind == LATENT:
        return "MLA"
    heads = _required(config, "num_attention_heads")
    kv = plan[0].k_heads
    base = "MHA" if kv == heads else ("MQA" if kv == 1 else "GQA")
    sliding = sum(spec.kind == SLIDING for spec in plan)
    if sliding == len(plan):
        return f"{base}, sliding window on every layer"
    if sliding:
        return f"{base}, hybrid: {sliding} sliding + {len(plan) - sliding} full layers"
    return base


def summary(config: Mapping[str, Any]) -> dict[str, Any]:
    """The cache-relevant reading of a config, for the spec page and for test messages."""
    plan = layer_plan(config)
    counts: dict[str, int] = {}
    for spec in plan:
        counts[spec.kind] = counts.get(spec.kind, 0) + 1
    first = plan[0]
    windows = sorted({spec.window for spec in plan if spec.window is not None})
    return {
        "model_type": model_type(config),
        "attention": attention_kind(config),
        "layers": len(plan),
        "layers_by_kind": counts,
        "kv_heads": first.k_heads,
        "key_dim": first.k_dim,
        "value_dim": first.v_dim,
        "sliding_window": windows[0] if windows else None,
    }
