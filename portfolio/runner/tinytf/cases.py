"""The tiny transformer grader's cases (standard library only): public ones, shown on the spec page
with what they expect, and hidden ones, of which a learner sees the category and the hint only.

A case names a check, a config of `CONFIGS` and its own seed; the weights and the inputs are
drawn from the seed by both harnesses (harness_learner.make_weights / make_tokens), so no tensor
is stored here and the learner's step never receives an expected value.

Each case's `catches` names the typical mistakes (the submissions in tests/runner/tinytf/
submissions/) it is there to catch; the tests assert that exactly those cases fail for each
mistake and that the correct submission passes every case. Why these: RoPE mistakes show only
on RoPE configs, tied embeddings and LayerNorm (with its bias) only where the config has them;
a mask that lets a query see ahead is caught by causality, by the reference and by the cache
cases (decoding with a cache cannot see the future, so step-by-step and full logits part);
sampling mistakes show only on distributions where they change the draw (top-p with a crossing
token, temperatures other than 1). The learning case judges the trained weights in the reference,
so a model that is not the reference fails it where what it learned does not carry over: a norm
after the residual, RoPE on the wrong pairs. The mask and scale mistakes learn weights that still
copy in the reference (their held-out loss stays under 0.002 nats), so it is not listed for them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypedDict

from portfolio.runner.casetable import HIDDEN, VISIBLE, case_sets
from portfolio.runner.tinytf import contract

# Typical mistakes, named like the submissions in tests/runner/tinytf/submissions/.
NO_CAUSAL_MASK = "no_causal_mask"
MASK_OFF_BY_ONE = "mask_off_by_one"
CACHE_OVERWRITTEN = "cache_overwritten"
NO_SCALE = "no_attention_scale"
ROPE_RESTARTS = "rope_positions_restart"
TOP_P_DROPS_CROSSING = "top_p_drops_crossing"
TEMPERATURE_AFTER_SOFTMAX = "temperature_after_softmax"
POST_NORM = "norm_after_residual"
ROPE_WRONG_PAIRS = "rope_interleaved_pairs"
MISTAKES = (
    NO_CAUSAL_MASK,
    MASK_OFF_BY_ONE,
    CACHE_OVERWRITTEN,
    NO_SCALE,
    ROPE_RESTARTS,
    TOP_P_DROPS_CROSSING,
    TEMPERATURE_AFTER_SOFTMAX,
    POST_NORM,
    ROPE_WRONG_PAIRS,
)

# Every check: (category, the hint a failing learner reads, what a public case expects).
CHECKS: dict[str, tuple[str, str]] = {
    "shapes": (
        "interface",
        "model(input_ids) must return float32 logits [batch, seq, vocab_size] and a cache, and the "
        "state_dict must have exactly the published parameter names and shapes.",
    ),
    "param_count": (
        "parameters",
        "Count every parameter once: no biases on linear layers, LayerNorm has weight and bias, "
        "RMSNorm weight only, a tied lm_head shares tok_emb.weight.",
    ),
    "blocks": (
        "reference",
        "A block's output differs from the reference with the same weights: check pre-norm order "
        "(x + attn(norm(x))), the 1/sqrt(head_dim) scale, the RoPE pairing and the GQA head grouping.",
    ),
    "logits": (
        "reference",
        "The logits differ from the reference with the same weights: check the blocks, final_norm, "
        "the tied lm_head and the positions.",
    ),
    "causality": (
        "causality",
        "Changing tokens after position t changed logits at positions <= t: the query at position p "
        "may attend to keys at positions 0..p only.",
    ),
    "incremental": (
        "kv-cache",
        "Decoding token by token with your cache gives other logits than one full forward: append "
        "new keys and values to the cache, and give new tokens the positions after the cached ones.",
    ),
    "cache_bytes": (
        "kv-cache",
        "The cache must hold keys and values for every token so far: 2 x layers x n_kv_heads x "
        "head_dim x tokens x batch x 4 bytes (float32), the 09 formula.",
    ),
    "learning": (
        "learning",
        "After the grader's training loop, your trained weights in the grader's reference model do not "
        "bring the held-out loss below the threshold: check that gradients reach every parameter, and "
        "that your model is the reference (causal, scaled, normalised as published), since the weights "
        "it learns are judged in the reference.",
    ),
    "greedy": ("sampling", "temperature 0 must return the argmax of each row."),
    "top_k": ("sampling", "top_k keeps the k most likely tokens, all of them, and nothing else."),
    "top_p": (
        "sampling",
        "top_p keeps the smallest set of most likely tokens whose mass reaches p, including the "
        "token that crosses p; sort by probability first.",
    ),
    "frequencies": (
        "sampling",
        "Draws must follow softmax(logits / temperature): divide the logits by the temperature "
        "before the softmax, not the probabilities after it.",
    ),
}

TOLERANCE = 1e-4  # max |observed - reference| / max(1, max |reference|), float32 against float64
LOSS_THRESHOLD = 0.1  # nats, the copy task's held-out loss after training (chance: ln(vocab - 1))
P_VALUE_MIN = 1e-3  # chi-square test of the draws against the target distribution, fixed seed

CONFIGS: dict[str, dict[str, Any]] = {
    "gqa-rope": {
        "vocab_size": 48,
        "n_layers": 2,
        "d_model": 32,
        "n_heads": 4,
        "n_kv_heads": 2,
        "d_ff": 64,
        "norm": "rmsnorm",
        "positions": "rope",
        "tie_embeddings": False,
        "max_seq_len": 64,
    },
    "mha-learned-tied": {
        "vocab_size": 40,
        "n_layers": 2,
        "d_model": 32,
        "n_heads": 4,
        "n_kv_heads": 4,
        "d_ff": 48,
        "norm": "layernorm",
        "positions": "learned",
        "tie_embeddings": True,
        "max_seq_len": 32,
    },
    "mqa-rope-tied": {
        "vocab_size": 56,
        "n_layers": 3,
        "d_model": 48,
        "n_heads": 6,
        "n_kv_heads": 1,
        "d_ff": 96,
        "norm": "rmsnorm",
        "positions": "rope",
        "tie_embeddings": True,
        "max_seq_len": 64,
    },
    "copy-rope": {
        "vocab_size": 12,
        "n_layers": 2,
        "d_model": 32,
        "n_heads": 4,
        "n_kv_heads": 2,
        "d_ff": 64,
        "norm": "rmsnorm",
        "positions": "rope",
        "tie_embeddings": False,
        "max_seq_len": 32,
    },
    # gpu-marked runs (params size="full"): a model of a few tens of millions of parameters
    "full-gqa-rope": {
        "vocab_size": 4096,
        "n_layers": 8,
        "d_model": 512,
        "n_heads": 8,
        "n_kv_heads": 2,
        "d_ff": 1376,
        "norm": "rmsnorm",
        "positions": "rope",
        "tie_embeddings": False,
        "max_seq_len": 1024,
    },
}
FULL_SIZE = {"gqa-rope": "full-gqa-rope", "mqa-rope-tied": "full-gqa-rope"}
FULL_SEQ_LEN = 256  # the learner's tensors of the full-size cases come to about 100 MB

COPY_TASK = {
    "length": 6,
    "batch": 32,
    "steps": 150,
    "lr": 1e-2,
    "eval_batch": 256,
    "cpu_budget_s": 20,
    "wall_budget_s": 60,
}

# Fixed logits for the sampling cases: probabilities written out, so that top-p has a token that
# crosses the threshold, and not sorted, so that a filter that forgets to sort fails.
_P_PUBLIC = [0.05, 0.5, 0.15, 0.3]
_P_HIDDEN = [0.06, 0.25, 0.04, 0.35, 0.1, 0.2]
_FREQ_LOGITS = [1.0, 0.2, -0.5, 2.0, 0.0, -1.0, 0.7, 1.5]


def _log(probabilities: list[float]) -> list[float]:
    return [math.log(p) for p in probabilities]


class Case(TypedDict, total=False):
    name: str
    check: str
    visibility: str
    config: str
    seed: int
    batch: int
    seq_len: int
    t: int
    prefill: int
    heldout_seed: int  # learning: the check step's held-out sequences; never in learner_input
    logits: list[Any]
    rows: int
    temperature: float
    top_k: int
    top_p: float
    catches: list[str]
    why: str


_REFERENCE_MISTAKES = [NO_CAUSAL_MASK, MASK_OFF_BY_ONE, NO_SCALE, POST_NORM]
_ROPE = [ROPE_WRONG_PAIRS]
# A leaky mask shows in the cache cases too: decoding with a cache cannot see the future.
_INCREMENTAL = [NO_CAUSAL_MASK, MASK_OFF_BY_ONE, CACHE_OVERWRITTEN, ROPE_RESTARTS]

CASES: list[Case] = [
    # ---- public ----
    {"name": "shapes", "check": "shapes", "visibility": VISIBLE, "config": "gqa-rope", "seed": 1, "batch": 2,
     "seq_len": 12, "catches": [], "why": "logits [2, 12, 48] float32; state_dict = the layout"},
    {"name": "parameter-count", "check": "param_count", "visibility": VISIBLE, "config": "gqa-rope", "seed": 2,
     "catches": [], "why": "GQA: k_proj and v_proj are n_kv_heads x head_dim wide"},
    {"name": "blocks", "check": "blocks", "visibility": VISIBLE, "config": "gqa-rope", "seed": 3, "batch": 2,
     "seq_len": 12, "catches": [*_REFERENCE_MISTAKES, *_ROPE], "why": "each block's output against the reference"},
    {"name": "logits", "check": "logits", "visibility": VISIBLE, "config": "gqa-rope", "seed": 4, "batch": 2,
     "seq_len": 12, "catches": [*_REFERENCE_MISTAKES, *_ROPE], "why": "end to end against the reference"},
    {"name": "causality", "check": "causality", "visibility": VISIBLE, "config": "gqa-rope", "seed": 5, "batch": 2,
     "seq_len": 12, "t": 5, "catches": [NO_CAUSAL_MASK, MASK_OFF_BY_ONE],
     "why": "tokens 6..11 changed; logits 0..5 must not move"},
    {"name": "incremental", "check": "incremental", "visibility": VISIBLE, "config": "gqa-rope", "seed": 6,
     "batch": 2, "seq_len": 12, "prefill": 5, "catches": _INCREMENTAL,
     "why": "prefill 5 tokens, then 7 one at a time"},
    {"name": "cache-bytes", "check": "cache_bytes", "visibility": VISIBLE, "config": "gqa-rope", "seed": 7,
     "batch": 2, "seq_len": 12, "prefill": 5, "catches": [CACHE_OVERWRITTEN],
     "why": "after 12 tokens: 2 x 2 layers x 2 KV heads x 8 x 12 x 2 x 4 bytes"},
    {"name": "learning", "check": "learning", "visibility": VISIBLE, "config": "copy-rope", "seed": 8,
     "heldout_seed": 80_021, "catches": [POST_NORM, ROPE_WRONG_PAIRS],
     "why": "copy 6 tokens after a separator; the grader's AdamW loop, 150 steps; loss on fresh sequences"},
    {"name": "greedy", "check": "greedy", "visibility": VISIBLE, "config": "gqa-rope", "seed": 9,
     "logits": [[3.0, 1.0, 0.5, 2.5], [0.1, 0.2, -1.0, 0.0], [-2.0, -1.0, -3.0, -1.5]], "rows": 3,
     "temperature": 0.0, "top_k": 0, "top_p": 1.0, "catches": [], "why": "temperature 0 is argmax"},
    {"name": "top-k", "check": "top_k", "visibility": VISIBLE, "config": "gqa-rope", "seed": 10,
     "logits": _log(_P_PUBLIC), "rows": 4000, "temperature": 1.0, "top_k": 2, "top_p": 1.0, "catches": [],
     "why": "k = 2 keeps tokens 1 and 3, in proportion 0.5 : 0.3"},
    {"name": "top-p-crossing", "check": "top_p", "visibility": VISIBLE, "config": "gqa-rope", "seed": 11,
     "logits": _log(_P_PUBLIC), "rows": 4000, "temperature": 1.0, "top_k": 0, "top_p": 0.7,
     "catches": [TOP_P_DROPS_CROSSING], "why": "0.5 < 0.7 <= 0.5 + 0.3: tokens 1 and 3 stay, 3 crosses"},
    {"name": "temperature-frequencies", "check": "frequencies", "visibility": VISIBLE, "config": "gqa-rope",
     "seed": 12, "logits": _FREQ_LOGITS, "rows": 20000, "temperature": 0.7, "top_k": 0, "top_p": 1.0,
     "catches": [TEMPERATURE_AFTER_SOFTMAX], "why": "20,000 draws against softmax(logits / 0.7)"},
    # ---- hidden: the learner sees the name, category and hint of these, never the inputs ----
    {"name": "hidden-01", "check": "shapes", "visibility": HIDDEN, "config": "mha-learned-tied", "seed": 21,
     "batch": 3, "seq_len": 9, "catches": [], "why": "learned positions, LayerNorm, tied"},
    {"name": "hidden-02", "check": "param_count", "visibility": HIDDEN, "config": "mha-learned-tied", "seed": 22,
     "catches": [], "why": "tied head counted once, LayerNorm biases, position table"},
    {"name": "hidden-03", "check": "param_count", "visibility": HIDDEN, "config": "mqa-rope-tied", "seed": 23,
     "catches": [], "why": "MQA"},
    {"name": "hidden-04", "check": "blocks", "visibility": HIDDEN, "config": "mha-learned-tied", "seed": 24,
     "batch": 2, "seq_len": 10, "catches": [*_REFERENCE_MISTAKES], "why": "no RoPE: its mistakes cannot show"},
    {"name": "hidden-05", "check": "logits", "visibility": HIDDEN, "config": "mqa-rope-tied", "seed": 25,
     "batch": 2, "seq_len": 16, "catches": [*_REFERENCE_MISTAKES, *_ROPE], "why": "MQA, 3 layers, tied"},
    {"name": "hidden-06", "check": "logits", "visibility": HIDDEN, "config": "mha-learned-tied", "seed": 26,
     "batch": 1, "seq_len": 20, "catches": [*_REFERENCE_MISTAKES], "why": "learned positions, tied"},
    {"name": "hidden-07", "check": "causality", "visibility": HIDDEN, "config": "mha-learned-tied", "seed": 27,
     "batch": 2, "seq_len": 10, "t": 0, "catches": [NO_CAUSAL_MASK, MASK_OFF_BY_ONE],
     "why": "only the first token kept"},
    {"name": "hidden-08", "check": "causality", "visibility": HIDDEN, "config": "mqa-rope-tied", "seed": 28,
     "batch": 1, "seq_len": 16, "t": 12, "catches": [NO_CAUSAL_MASK, MASK_OFF_BY_ONE],
     "why": "late t: only three tokens change"},
    {"name": "hidden-09", "check": "incremental", "visibility": HIDDEN, "config": "mqa-rope-tied", "seed": 29,
     "batch": 2, "seq_len": 10, "prefill": 1, "catches": _INCREMENTAL,
     "why": "one-token prefill, MQA"},
    {"name": "hidden-10", "check": "incremental", "visibility": HIDDEN, "config": "mha-learned-tied", "seed": 30,
     "batch": 1, "seq_len": 12, "prefill": 8, "catches": _INCREMENTAL,
     "why": "learned positions must continue after the cache too"},
    {"name": "hidden-11", "check": "cache_bytes", "visibility": HIDDEN, "config": "mqa-rope-tied", "seed": 31,
     "batch": 3, "seq_len": 9, "prefill": 4, "catches": [CACHE_OVERWRITTEN], "why": "MQA: one KV head"},
    {"name": "hidden-12", "check": "greedy", "visibility": HIDDEN, "config": "gqa-rope", "seed": 32,
     "logits": [[-0.3, 4.0, 3.9, 0.0, 1.0], [7.0, 7.5, -2.0, 0.0, 6.9]], "rows": 2,
     "temperature": 0.0, "top_k": 3, "top_p": 0.5, "catches": [], "why": "greedy wins over top-k and top-p"},
    {"name": "hidden-13", "check": "top_k", "visibility": HIDDEN, "config": "gqa-rope", "seed": 33,
     "logits": _FREQ_LOGITS, "rows": 6000, "temperature": 1.0, "top_k": 3, "top_p": 1.0, "catches": [],
     "why": "k = 3 of 8"},
    {"name": "hidden-14", "check": "top_p", "visibility": HIDDEN, "config": "gqa-rope", "seed": 34,
     "logits": _log(_P_HIDDEN), "rows": 6000, "temperature": 1.0, "top_k": 0, "top_p": 0.75,
     "catches": [TOP_P_DROPS_CROSSING], "why": "0.35 + 0.25 < 0.75 <= 0.8: three tokens stay"},
    {"name": "hidden-15", "check": "frequencies", "visibility": HIDDEN, "config": "gqa-rope", "seed": 35,
     "logits": _FREQ_LOGITS, "rows": 20000, "temperature": 1.6, "top_k": 0, "top_p": 1.0,
     "catches": [TEMPERATURE_AFTER_SOFTMAX], "why": "a temperature above 1 flattens the distribution"},
]  # fmt: skip


all_cases, public_cases, hidden_cases = case_sets(CASES)


def category(item: Mapping[str, Any]) -> str:
    return CHECKS[item["check"]][0]


def hint(item: Mapping[str, Any]) -> str:
    return CHECKS[item["check"]][1]


def config_of(item: Mapping[str, Any], size: str = "cpu") -> dict[str, Any]:
    name = FULL_SIZE.get(item["config"], item["config"]) if size == "full" else item["config"]
    return dict(CONFIGS[name])


def learner_input(item: Mapping[str, Any], size: str = "cpu") -> dict[str, Any]:
    """What the learner's step gets for a case: the check's inputs, never what it should return."""
    config = config_of(item, size)
    data: dict[str, Any] = {
        "name": item["name"],
        "check": item["check"],
        "seed": item["seed"],
        "config": config,
        "layout": [[name, list(shape)] for name, shape in contract.parameter_layout(config)],
    }
    for key in ("batch", "seq_len", "t", "prefill", "logits", "rows", "temperature", "top_k", "top_p"):
        if key in item:
            data[key] = item[key]
    if size == "full" and "seq_len" in item and item["config"] in FULL_SIZE:
        scale = FULL_SEQ_LEN / item["seq_len"]
        data["seq_len"] = FULL_SEQ_LEN
        for key in ("t", "prefill"):
            if key in item:
                data[key] = max(1, int(item[key] * scale)) if item[key] else 0
    if item["check"] == "learning":
        data["task"] = dict(COPY_TASK)
    return data


def check_input(item: Mapping[str, Any], size: str = "cpu") -> dict[str, Any]:
    """What the trusted check step gets for a case: the learner's input, plus what only the check
    step may know (the learning case's held-out seed, so the training never sees those sequences)."""
    data = learner_input(item, size)
    if "heldout_seed" in item:
        data["heldout_seed"] = item["heldout_seed"]
    return data


def expectation(item: Mapping[str, Any]) -> str:
    """What a public case expects, in words and numbers, for the spec page."""
    config = CONFIGS[item["config"]]
    check = item["check"]
    if check == "shapes":
        return f"logits [{item['batch']}, {item['seq_len']}, {config['vocab_size']}] float32"
    if check == "param_count":
        return f"{contract.parameter_count(config):,} parameters"
    if check in ("blocks", "logits"):
        return f"equal to the reference within {TOLERANCE:g} (relative to the largest value)"
    if check == "causality":
        return f"logits at positions 0..{item['t']} unchanged (within {TOLERANCE:g})"
    if check == "incremental":
        return f"every step's logits equal the full forward within {TOLERANCE:g}"
    if check == "cache_bytes":
        return f"{contract.cache_bytes(config, item['batch'], item['seq_len']):,} bytes"
    if check == "learning":
        return (
            f"after {COPY_TASK['steps']} training steps, the trained weights in the reference: held-out loss "
            f"below {LOSS_THRESHOLD:g} nats"
        )
    return f"draws follow the target distribution (support exact, chi-square p > {P_VALUE_MIN:g})"
