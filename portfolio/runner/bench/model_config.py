"""Model configs the benchmark accepts: the families, their normalisation, and shape arithmetic.

Standard library only. `normalise` checks an inline (or catalog) Hugging Face config and writes
every default out explicitly; `param_count`, `embedding_params`, `kv_bytes_per_token` and
`max_context` read a normalised config. The harness builds the model from the same normalised
config, so the model it times is exactly the one counted here.
"""

from __future__ import annotations

import copy
from typing import Any

from .checks import Errors, add_error, int_in, is_int

DTYPE_BYTES: dict[str, int] = {"float32": 4, "bfloat16": 2, "float16": 2}

# Model families this benchmark can build from a config and estimate analytically.
#
# Each family lists the config keys a learner must give in an inline config and the defaults we
# fill in ourselves. We write every default into the normalised config explicitly, so the model
# the harness builds is exactly the one the estimator counted, whatever transformers' own class
# defaults are (they differ: Qwen3's head_dim defaults to 128, Qwen2's kv heads to 32).
# Mixture-of-experts families are left out on purpose: with random router weights the experts
# are not used the way a trained model uses them, so their timings would not mean much.

LLAMA_LIKE = ("llama", "mistral", "qwen2", "qwen3")
FAMILIES: dict[str, dict[str, Any]] = {
    "llama": {
        "required": (
            "hidden_size",
            "intermediate_size",
            "num_hidden_layers",
            "num_attention_heads",
            "num_key_value_heads",
            "vocab_size",
            "max_position_embeddings",
        ),
        "defaults": {
            "tie_word_embeddings": False,
            "attention_bias": False,
            "mlp_bias": False,
        },
    },
    "mistral": {
        "required": (
            "hidden_size",
            "intermediate_size",
            "num_hidden_layers",
            "num_attention_heads",
            "num_key_value_heads",
            "vocab_size",
            "max_position_embeddings",
        ),
        "defaults": {"tie_word_embeddings": False, "sliding_window": None},
    },
    "qwen2": {
        "required": (
            "hidden_size",
            "intermediate_size",
            "num_hidden_layers",
            "num_attention_heads",
            "num_key_value_heads",
            "vocab_size",
            "max_position_embeddings",
        ),
        "defaults": {"tie_word_embeddings": False, "use_sliding_window": False},
    },
    "qwen3": {
        "required": (
            "hidden_size",
            "intermediate_size",
            "num_hidden_layers",
            "num_attention_heads",
            "num_key_value_heads",
            "head_dim",
            "vocab_size",
            "max_position_embeddings",
        ),
        "defaults": {
            "tie_word_embeddings": False,
            "attention_bias": False,
            "use_sliding_window": False,
        },
    },
    "gpt2": {
        "required": ("n_embd", "n_layer", "n_head", "vocab_size", "n_positions"),
        "defaults": {"n_inner": None, "tie_word_embeddings": True},
    },
}


def normalise(errors: Errors, path: str, config: Any) -> dict[str, Any] | None:
    """A copy of `config` with its family's defaults written out, or None (and errors at `path`)."""
    if not isinstance(config, dict):
        add_error(errors, path, "must be an object (a Hugging Face config dict)")
        return None
    model_type = config.get("model_type")
    if model_type not in FAMILIES:
        add_error(
            errors,
            f"{path}.model_type",
            f"must be one of {', '.join(FAMILIES)} (mixture-of-experts and other families are not "
            f"supported: random router weights make MoE timings unrepresentative), got {model_type!r}",
        )
        return None
    family = FAMILIES[model_type]
    out = copy.deepcopy(config)
    out.pop("architectures", None)
    # A dtype inside the config would fight the spec's dtype field; the spec's wins.
    out.pop("torch_dtype", None)
    out.pop("dtype", None)
    ok = True
    for key in family["required"]:
        if key not in config:
            add_error(errors, f"{path}.{key}", f"is required for model_type {model_type!r}")
            ok = False
        elif int_in(errors, f"{path}.{key}", config[key], 1, 10**7) is None:
            ok = False
    if not ok:
        return None
    for key, default in family["defaults"].items():
        out.setdefault(key, default)
    if model_type in LLAMA_LIKE:
        heads, kv = out["num_attention_heads"], out["num_key_value_heads"]
        if heads % kv:
            add_error(
                errors,
                f"{path}.num_key_value_heads",
                f"must divide num_attention_heads ({heads})",
            )
            return None
        if out.get("head_dim") is None:
            if out["hidden_size"] % heads:
                add_error(
                    errors,
                    f"{path}.head_dim",
                    "is required when hidden_size is not a multiple of num_attention_heads",
                )
                return None
            out["head_dim"] = out["hidden_size"] // heads
        if model_type == "qwen2" and out["hidden_size"] != heads * out["head_dim"]:
            # transformers' Qwen2 attention always uses hidden_size // heads.
            add_error(
                errors,
                f"{path}.head_dim",
                "qwen2 requires head_dim == hidden_size / num_attention_heads",
            )
            return None
        # Sliding-window attention changes what the cache holds; the roofline and the memory
        # estimate here assume every layer attends to the whole context, so refuse it.
        if out.get("sliding_window") not in (None, 0) and (model_type == "mistral" or out.get("use_sliding_window")):
            add_error(
                errors,
                f"{path}.sliding_window",
                "sliding-window attention is not supported by this benchmark",
            )
            return None
        if out.get("use_sliding_window"):
            add_error(
                errors,
                f"{path}.use_sliding_window",
                "sliding-window attention is not supported by this benchmark",
            )
            return None
    else:  # gpt2
        if out["n_embd"] % out["n_head"]:
            add_error(errors, f"{path}.n_head", "must divide n_embd")
            return None
        vocab = out["vocab_size"]
        # GPT-2's published ids (50256) lie outside a small vocabulary; transformers warns.
        for key in ("bos_token_id", "eos_token_id"):
            if not is_int(out.get(key)) or not 0 <= out[key] < vocab:
                out[key] = vocab - 1
    return out


def max_context(config: dict[str, Any]) -> int:
    return int(config["n_positions"] if config["model_type"] == "gpt2" else config["max_position_embeddings"])


def param_count(config: dict[str, Any]) -> int:
    """Exact parameter count of the transformers model built from this normalised config.

    Counted once per tensor: tied input and output embeddings are one tensor. Checked against
    the built model in the runner-env tests and against the published sizes in the catalog.
    """
    mt = config["model_type"]
    vocab = config["vocab_size"]
    if mt == "gpt2":
        e, layers = config["n_embd"], config["n_layer"]
        inner = config.get("n_inner") or 4 * e
        per_layer = (
            2 * e  # ln_1
            + e * 3 * e
            + 3 * e  # c_attn
            + e * e
            + e  # attn c_proj
            + 2 * e  # ln_2
            + e * inner
            + inner  # mlp c_fc
            + inner * e
            + e  # mlp c_proj
        )
        total = vocab * e + config["n_positions"] * e + layers * per_layer + 2 * e
        if not config.get("tie_word_embeddings", True):
            total += vocab * e
        return total
    h = config["hidden_size"]
    inter = config["intermediate_size"]
    layers = config["num_hidden_layers"]
    heads, kv, hd = (
        config["num_attention_heads"],
        config["num_key_value_heads"],
        config["head_dim"],
    )
    q, kvd = heads * hd, kv * hd
    attn = h * q + 2 * h * kvd + q * h
    if mt == "qwen2":
        attn += q + 2 * kvd  # Qwen2 always has q/k/v biases
    elif config.get("attention_bias"):
        attn += q + 2 * kvd + h
    if mt == "qwen3":
        attn += 2 * hd  # per-head RMSNorm on q and k
    mlp = 3 * h * inter
    if config.get("mlp_bias"):
        mlp += 2 * inter + h
    per_layer = attn + mlp + 2 * h
    total = vocab * h + layers * per_layer + h
    if not config.get("tie_word_embeddings"):
        total += vocab * h
    return total


def embedding_params(config: dict[str, Any]) -> int:
    """Parameters of lookup tables that a decode step reads only a few rows of.

    With untied embeddings the input table is a gather of B rows, not a full read; GPT-2's
    learned position table is the same. A tied table is read in full by the output head.
    """
    if config["model_type"] == "gpt2":
        e = config["n_embd"]
        table = 0 if config.get("tie_word_embeddings", True) else config["vocab_size"] * e
        return table + config["n_positions"] * e
    if config.get("tie_word_embeddings"):
        return 0
    return config["vocab_size"] * config["hidden_size"]


def kv_bytes_per_token(config: dict[str, Any], dtype: str) -> int:
    """K and V bytes one token adds to the cache of one sequence, all layers: 2·L·kv_heads·head_dim·bytes."""
    b = DTYPE_BYTES[dtype]
    if config["model_type"] == "gpt2":
        return 2 * config["n_layer"] * config["n_embd"] * b
    return 2 * config["num_hidden_layers"] * config["num_key_value_heads"] * config["head_dim"] * b
