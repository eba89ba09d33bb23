"""Harness script (the trusted steps): ``RUNNER_PYTHON -I harness_truth.py input.json output.json [FILES]``.

Never runs learner code. Two modes:

- "prepare" (no FILES): builds the reference models (`measure.build_model`) and writes
  weights.safetensors (every decoder linear weight, "<model>/<layer>") and x.safetensors (the
  qmatmul activations, "x::<model>/<layer>"), the only things the learner's steps receive.
- "truth" (FILES = the learner's packed.safetensors and dequantized.safetensors, read as data):
  for each setting, the packed bytes of each layer (from the safetensors header alone), the
  learner's and the round-to-nearest reference's weight error and effect on the model outputs
  (`measure.figures`), and qmatmul's error against x @ W_q^T.

Input: {"mode", "settings": [cases.Setting], "requests": cases.quantize_requests(...),
"threads": int (optional)}. Output: {"status": "ok" | "error", "settings": {key: {...}},
"versions", "wall_s"}; exit status 0 when the output says ok.
"""

from __future__ import annotations

import json
import math
import struct
import sys
import time
import traceback
from pathlib import Path
from typing import Any

# `python -I` leaves the script's folder off sys.path; the repository root is four levels up
# (quant, runner, portfolio, root), which is also where the sandbox mounts the runner package.
ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from portfolio.runner.harness.trusted import progress_writer, read_job  # noqa: E402 - after the path

_emit = progress_writer()
WEIGHTS_FILE = "weights.safetensors"
X_FILE = "x.safetensors"
MAX_HEADER_BYTES = 16 * 1024 * 1024


def packed_bytes(path: Path) -> dict[str, int]:
    """{tensor id: bytes of its packed tensors} from a safetensors header, without loading data."""
    with path.open("rb") as fh:
        (length,) = struct.unpack("<Q", fh.read(8))
        if length > MAX_HEADER_BYTES:
            raise ValueError("the packed file's header is too large")
        header = json.loads(fh.read(length))
    sizes: dict[str, int] = {}
    for key, info in header.items():
        if key == "__metadata__" or "::" not in key:
            continue
        start, end = info["data_offsets"]
        rid = key.split("::", 1)[0]
        sizes[rid] = sizes.get(rid, 0) + int(end) - int(start)
    return sizes


def prepare(job: dict[str, Any]) -> dict[str, Any]:
    from safetensors.torch import save_file

    from portfolio.runner.quant import measure

    weights: dict[str, Any] = {}
    xs: dict[str, Any] = {}
    for name in sorted({item["model"] for item in job["settings"]}):
        modules = dict(measure.build_model(name).named_modules())
        for request in job["requests"]:
            if request["weight"].startswith(f"{name}/"):
                layer = request["weight"].split("/", 1)[1]
                weights[request["weight"]] = modules[layer].weight.detach().contiguous()
                if request["qmatmul"]:
                    xs[f"x::{request['weight']}"] = measure.activations(request["shape"][1], request["weight"])
        _emit({"stage": "prepare", "model": name})
    save_file(weights, WEIGHTS_FILE)
    save_file(xs, X_FILE)
    return {"status": "ok", "weights": len(weights), "activations": len(xs)}


def truth(job: dict[str, Any], packed_path: Path, restored_path: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    from portfolio.runner.quant import cases, measure

    sizes = packed_bytes(packed_path)
    restored = load_file(str(restored_path))
    tokens = measure.prompts()
    out: dict[str, Any] = {}
    models = sorted({item["model"] for item in job["settings"]})
    for name in models:
        model = measure.build_model(name)
        modules = dict(model.named_modules())
        shapes = cases.linear_shapes(name)
        originals = {layer: modules[layer].weight.detach().clone() for layer in shapes}
        base = measure.logits_with(model, {}, tokens)
        for item in job["settings"]:
            if item["model"] != name:
                continue
            key, bits, group = item["key"], item["bits"], item["group_size"]
            ids = {layer: cases.tensor_id(key, layer) for layer in shapes}
            weights = sum(r * c for r, c in shapes.values())
            got = {layer: restored[rid] for layer, rid in ids.items() if rid in restored}
            usable = {
                layer: value
                for layer, value in got.items()
                if tuple(value.shape) == tuple(originals[layer].shape) and bool(value.isfinite().all())
            }
            record: dict[str, Any] = {
                "storage": {
                    "bytes": sum(sizes.get(rid, 0) for rid in ids.values()),
                    "bound": sum(cases.storage_bound(shape, bits, group) for shape in shapes.values()),
                    "weights": weights,
                    "missing": sorted(layer for layer, rid in ids.items() if rid not in sizes),
                },
                "missing": sorted(set(shapes) - set(usable)),
                "reference": measure.reference_figures(model, base, tokens, originals, bits, group),
                "learner": None,
                "qmatmul": {},
            }
            record["storage"]["bits_per_weight"] = 8 * record["storage"]["bytes"] / weights
            if len(usable) == len(shapes):
                record["learner"] = measure.figures(model, base, tokens, originals, usable, group)
            for layer in cases.QMATMUL_LAYERS:
                y = restored.get(f"{ids[layer]}::qmatmul")
                if y is None or layer not in usable:
                    continue
                x = measure.activations(originals[layer].shape[1], f"{name}/{layer}")
                expected = x @ usable[layer].T
                if tuple(y.shape) != tuple(expected.shape):
                    record["qmatmul"][layer] = None
                    continue
                denom = float(expected.double().norm()) or 1.0
                error = float((y.double() - expected.double()).norm()) / denom
                record["qmatmul"][layer] = error if math.isfinite(error) else None
            out[key] = record
            _emit({"stage": "truth", "setting": key})
    return {"status": "ok", "settings": out}


def main(argv: list[str]) -> int:
    read = read_job([argv[0], *argv[1:3]])
    if read is None:
        return 2
    job, out_path = read
    started = time.perf_counter()
    try:
        if job.get("threads"):
            import torch

            torch.set_num_threads(int(job["threads"]))
        if job.get("mode") == "prepare":
            output = prepare(job)
        else:
            output = truth(job, Path(argv[3]), Path(argv[4]))
        from portfolio.runner.quant import measure

        output["versions"] = measure.versions()
    except Exception as exc:
        output = {
            "status": "error",
            "error": f"{type(exc).__name__}: {exc}"[:2000],
            "traceback": traceback.format_exc()[-4000:],
        }
    output["wall_s"] = round(time.perf_counter() - started, 3)
    out_path.write_text(json.dumps(output), encoding="utf-8")
    return 0 if output["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
