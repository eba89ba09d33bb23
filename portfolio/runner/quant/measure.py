"""The quantizer grader's trusted measurements (runner env only; torch and transformers are
imported inside the functions).

- `build_model(name)`: the reference model from `cases.model_config` with weights of our own
  recipe, the same on every run: embeddings and output head scaled so the next-token
  distributions are neither flat nor one-hot; every decoder linear drawn by `synth_linear`.
- `synth_linear`: Student-t (5 degrees of freedom) weights with a log-normal scale per output row
  and a few input channels 3-8x larger than the rest. The outlier channels are shared by every
  layer that reads the residual stream, as in real checkpoints, which is what makes a per-tensor
  scale fail.
- `rtn`: round-to-nearest per group, the reference a submission is compared with: groups of
  `group_size` consecutive weights along each row (the last one shorter when the row length is
  not a multiple), scale from the group's range, codes clamped to what `bits` hold.
- `kl_top1`: mean KL(original || quantized) of the next-token distributions at every position of
  the fixed prompts, and the share of positions whose top-1 token agrees.
"""

from __future__ import annotations

import math
import platform
from collections.abc import Mapping
from typing import Any

from portfolio.runner.quant import cases

OUTLIER_SHARE = 0.01
WEIGHT_GAIN = 0.3
EMBED_STD = 0.25


def versions() -> dict[str, str]:
    import torch
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__, "python": platform.python_version()}


def _student_t(shape: tuple[int, ...], generator: Any, df: int = 5) -> Any:
    import torch

    z = torch.randn(shape, generator=generator)
    chi2 = torch.randn((df, *shape), generator=generator).pow(2).sum(0)
    return z / (chi2 / df).sqrt()


def outlier_channels(width: int, generator: Any) -> tuple[Any, Any]:
    """(indices, gains) of the outlier input channels of a width."""
    import torch

    count = max(1, round(width * OUTLIER_SHARE))
    index = torch.randperm(width, generator=generator)[:count]
    gain = 3 + 5 * torch.rand(count, generator=generator)
    return index, gain


def synth_linear(out_features: int, in_features: int, generator: Any, outliers: tuple[Any, Any]) -> Any:
    import torch

    weight = _student_t((out_features, in_features), generator) / math.sqrt(in_features) * WEIGHT_GAIN
    weight *= torch.exp(0.3 * torch.randn(out_features, 1, generator=generator))
    index, gain = outliers
    weight[:, index] *= gain
    return weight.contiguous()


def build_model(name: str) -> Any:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    spec = cases.MODELS[name]
    values = cases.model_config(name)
    kind = values.pop("model_type")
    config = AutoConfig.for_model(kind, **values)
    torch.manual_seed(spec["seed"])
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval()
    generator = torch.Generator().manual_seed(spec["seed"])
    hidden = int(values["hidden_size"])
    residual = outlier_channels(hidden, generator)
    shapes = cases.linear_shapes(name)
    with torch.no_grad():
        model.get_input_embeddings().weight.normal_(0, EMBED_STD, generator=generator)
        head = model.get_output_embeddings()
        if head is not None and head.weight.data_ptr() != model.get_input_embeddings().weight.data_ptr():
            head.weight.normal_(0, EMBED_STD, generator=generator)
        modules = dict(model.named_modules())
        for layer, (rows, cols) in shapes.items():
            own = residual if cols == hidden else outlier_channels(cols, generator)
            linear = modules[layer]
            linear.weight.copy_(synth_linear(rows, cols, generator, own))
            if linear.bias is not None:
                linear.bias.normal_(0, 0.02, generator=generator)
    return model


def prompts() -> Any:
    import torch

    generator = torch.Generator().manual_seed(cases.PROMPTS["seed"])
    vocab = min(int(cases.model_config(name)["vocab_size"]) for name in cases.MODELS)
    return torch.randint(0, vocab, (cases.PROMPTS["batch"], cases.PROMPTS["length"]), generator=generator)


def activations(in_features: int, weight: str) -> Any:
    """qmatmul's input for a weight ("<model>/<layer>"), the same in every run."""
    import zlib

    import torch

    generator = torch.Generator().manual_seed(zlib.crc32(weight.encode()))
    return torch.randn(cases.QMATMUL_ROWS, in_features, generator=generator)


# --- the reference quantizer -----------------------------------------------------------------------


def rtn(weight: Any, bits: int, group_size: int, scheme: str) -> Any:
    """Round-to-nearest per group, dequantized (float32, the weight's shape)."""
    import torch

    rows, cols = weight.shape
    groups = math.ceil(cols / group_size)
    padded = torch.nn.functional.pad(weight.float(), (0, groups * group_size - cols))
    blocks = padded.reshape(rows, groups, group_size)
    # Padding must not widen a partial group's range: fill it with the group's own first value.
    if cols % group_size:
        tail = blocks[:, -1, : cols % group_size]
        blocks[:, -1, cols % group_size :] = tail[:, :1]
    if scheme == cases.SYMMETRIC:
        qmax = 2 ** (bits - 1) - 1
        scale = blocks.abs().amax(-1, keepdim=True) / qmax
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        codes = torch.clamp(torch.round(blocks / scale), -qmax, qmax)
        restored = codes * scale
    else:
        qmax = 2**bits - 1
        low = blocks.amin(-1, keepdim=True)
        high = blocks.amax(-1, keepdim=True)
        scale = (high - low) / qmax
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        zero = torch.round(-low / scale)
        codes = torch.clamp(torch.round(blocks / scale) + zero, 0, qmax)
        restored = (codes - zero) * scale
    return restored.reshape(rows, groups * group_size)[:, :cols].contiguous()


def rel_error(pairs: list[tuple[Any, Any]]) -> float:
    """||W - W_q|| / ||W|| over several layers together (Frobenius)."""
    num = sum(float((w.double() - q.double()).pow(2).sum()) for w, q in pairs)
    den = sum(float(w.double().pow(2).sum()) for w, _ in pairs)
    return math.sqrt(num / den) if den else 0.0


def logits_with(model: Any, weights: Mapping[str, Any], tokens: Any) -> Any:
    """The model's logits with these linear weights swapped in (restored afterwards)."""
    import torch

    modules = dict(model.named_modules())
    saved = {name: modules[name].weight.detach().clone() for name in weights}
    try:
        with torch.no_grad():
            for name, value in weights.items():
                modules[name].weight.copy_(value)
            return model(tokens).logits.float()
    finally:
        with torch.no_grad():
            for name, value in saved.items():
                modules[name].weight.copy_(value)


def kl_top1(original: Any, quantized: Any) -> dict[str, float]:
    import torch

    log_p = torch.log_softmax(original.double(), -1)
    log_q = torch.log_softmax(quantized.double(), -1)
    kl = (log_p.exp() * (log_p - log_q)).sum(-1)
    agree = (original.argmax(-1) == quantized.argmax(-1)).double()
    return {"kl_divergence": float(kl.mean()), "top1_agreement": float(agree.mean())}


def figures(
    model: Any,
    base_logits: Any,
    tokens: Any,
    originals: Mapping[str, Any],
    restored: Mapping[str, Any],
    group_size: int,
) -> dict[str, Any]:
    """Error (whole, divisible layers, partial-group layers) and output effect of one set of
    restored weights for one setting."""
    whole = [(originals[name], restored[name]) for name in originals]
    # The partial last groups alone: a few columns of a few layers, which a whole-layer error hides.
    partial = [
        (
            originals[name][:, _tail(originals[name], group_size) :],
            restored[name][:, _tail(originals[name], group_size) :],
        )
        for name in originals
        if originals[name].shape[1] % group_size
    ]
    full = [(originals[name], restored[name]) for name in originals if not originals[name].shape[1] % group_size]
    out = {
        "weight_rel_error": rel_error(whole),
        "full_group_error": rel_error(full) if full else None,
        "partial_group_error": rel_error(partial) if partial else None,
    }
    out.update(kl_top1(base_logits, logits_with(model, restored, tokens)))
    return out


def _tail(weight: Any, group_size: int) -> int:
    cols = int(weight.shape[1])
    return cols - cols % group_size


def reference_figures(
    model: Any, base_logits: Any, tokens: Any, originals: Mapping[str, Any], bits: int, group_size: int
) -> dict[str, dict[str, Any]]:
    """Both schemes' round-to-nearest figures, with their bits per weight (float16 scales, and
    zero points of `bits` bits for the asymmetric scheme)."""
    weights = sum(w.numel() for w in originals.values())
    groups = sum(w.shape[0] * math.ceil(w.shape[1] / group_size) for w in originals.values())
    result = {}
    for scheme in cases.SCHEMES:
        restored = {name: rtn(w, bits, group_size, scheme) for name, w in originals.items()}
        meta_bits = groups * (16 + (bits if scheme == cases.ASYMMETRIC else 0))
        result[scheme] = {
            **figures(model, base_logits, tokens, originals, restored, group_size),
            "bits_per_weight": (weights * bits + meta_bits) / weights,
        }
    return result


def reference_table(settings: list[cases.Setting]) -> dict[str, Any]:
    """{setting key: {scheme: reference figures}} for the public table."""
    table: dict[str, Any] = {}
    tokens = prompts()
    for name in sorted({item["model"] for item in settings}):
        model = build_model(name)
        modules = dict(model.named_modules())
        originals = {layer: modules[layer].weight.detach().clone() for layer in cases.linear_shapes(name)}
        base = logits_with(model, {}, tokens)
        for item in settings:
            if item["model"] == name:
                table[item["key"]] = _rounded(
                    reference_figures(model, base, tokens, originals, item["bits"], item["group_size"])
                )
    return table


def _rounded(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value


def _write_public_table() -> None:  # pragma: no cover - run by hand in the runner env
    import json

    table = {
        "about": "Measured by `python -m portfolio.runner.quant.measure --write`; checked by tests/runner/quant.",
        "versions": versions(),
        "settings": reference_table(cases.public_settings()),
    }
    cases.PUBLIC_EXPECTED_PATH.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    import sys

    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m portfolio.runner.quant.measure --write")
    _write_public_table()
