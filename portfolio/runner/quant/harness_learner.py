"""Harness script (runs learner code): ``RUNNER_PYTHON -I harness_learner.py input.json output.json FILE [X]``.

Bound into the sandbox alone, next to the submission: standard library, torch and safetensors
only. It never receives an expected value, a seed or the model: only weights (FILE, written by
the trusted "prepare" step) or packed tensors (FILE, written by the "quantize" step).

Input (JSON object):
    mode            "quantize" or "dequantize"
    submission      folder holding the submission (default "submission")
    requests        [{"id", "weight", "shape": [rows, cols], "bits", "group_size", "qmatmul": bool}]
    call_timeout_s  limit of one call (default 5); import_timeout_s (default 20)

mode "quantize": for each request, ``quantize(weight, bits, group_size)`` on the float32 tensor
FILE[weight]; the returned dict of tensors is written to packed.safetensors as "<id>::<key>".
mode "dequantize": for each request, ``dequantize(packed, bits, group_size, shape)`` on the
tensors FILE holds for the id (and nothing else), and, when the module defines it and the
request asks, ``qmatmul(x, packed, bits, group_size, shape)`` on the activations X["x::<weight>"];
results go to
dequantized.safetensors as "<id>" and "<id>::qmatmul".

Output: {"status": "ok" | "no_module", "module", "functions": {name: bool}, "import": {...},
"results": {id: {"status", "message", "elapsed_s"}}, "device": {...} (GPU runners: qmatmul
timing)}. A result's status: ok, error (raised, or returned the wrong thing: the message says
what), timeout (did not return within call_timeout_s), missing (function not defined),
no_import. A call that ends the process fails the whole step (the grader reports a crash).
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

MODULE_NAME = "quantizer"
FUNCTIONS = ("quantize", "dequantize", "qmatmul")
DEFAULT_CALL_TIMEOUT_S = 5.0
DEFAULT_IMPORT_TIMEOUT_S = 20.0
MESSAGE_CHARS = 300
MAX_PACKED_ENTRIES = 16
PACKED_FILE = "packed.safetensors"
DEQUANTIZED_FILE = "dequantized.safetensors"


class CallTimeout(BaseException):
    """Raised in the learner's call by the alarm; BaseException so `except Exception` in the
    learner's code does not swallow it."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise CallTimeout


def find_module(submission: Path) -> Path | None:
    """quantizer.py at the top of the submission or inside its only folder."""
    if not submission.is_dir():
        return None
    if (submission / f"{MODULE_NAME}.py").is_file():
        return submission / f"{MODULE_NAME}.py"
    folders = [p for p in submission.iterdir() if p.is_dir() and not p.name.startswith(("__", "."))]
    if len(folders) == 1 and (folders[0] / f"{MODULE_NAME}.py").is_file():
        return folders[0] / f"{MODULE_NAME}.py"
    return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return "called sys.exit()"
    try:
        text = f"{type(exc).__name__}: {exc}"
    except BaseException:
        text = type(exc).__name__
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is not None:
        text += f" (at {Path(tb.tb_frame.f_code.co_filename).name}, line {tb.tb_lineno})"
    return text[:MESSAGE_CHARS]


def _timed(function: Any, args: tuple[Any, ...], timeout: float) -> tuple[str, Any, float]:
    """("ok", value) or ("timeout" | "error", message), with the elapsed seconds."""
    started = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        value = function(*args)
    except CallTimeout:
        return "timeout", f"did not return within {timeout:g} s", time.perf_counter() - started
    except BaseException as exc:
        return "error", f"raised {_describe(exc)}", time.perf_counter() - started
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return "ok", value, time.perf_counter() - started


def _load(module_path: Path, timeout: float) -> tuple[Any, str]:
    import importlib.util

    sys.path.insert(0, str(module_path.parent))  # a zip's module may import its sibling files

    def load() -> Any:
        spec = importlib.util.spec_from_file_location(MODULE_NAME, module_path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {module_path.name}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[MODULE_NAME] = module
        spec.loader.exec_module(module)
        return module

    status, value, _ = _timed(load, (), timeout)
    if status == "ok":
        return value, ""
    return (
        None,
        f"importing {module_path.name} {'took longer than ' + format(timeout, 'g') + ' s' if status == 'timeout' else 'failed: ' + value.removeprefix('raised ')}",
    )


def check_packed(value: Any) -> str:
    """ "" when `value` is what quantize must return: a dict of at most 16 tensors under str keys."""
    import torch

    if not isinstance(value, dict) or not value:
        return f"quantize returned {type(value).__name__}; return a non-empty dict of tensors"
    if len(value) > MAX_PACKED_ENTRIES:
        return f"quantize returned {len(value)} entries; at most {MAX_PACKED_ENTRIES}"
    for key, tensor in value.items():
        if not isinstance(key, str) or not key or "::" in key or len(key) > 64:
            return f"quantize returned the key {str(key)[:40]!r}; keys are names of 1 to 64 characters without '::'"
        if not isinstance(tensor, torch.Tensor):
            return f"quantize returned {type(tensor).__name__} under {key!r}; every value must be a torch.Tensor"
        if tensor.is_sparse or tensor.dtype in (torch.complex64, torch.complex128):
            return f"quantize returned a sparse or complex tensor under {key!r}"
    return ""


def check_restored(value: Any, shape: list[int]) -> str:
    import torch

    if not isinstance(value, torch.Tensor) or not value.is_floating_point():
        return f"returned {type(value).__name__}; return a floating-point torch.Tensor"
    if list(value.shape) != list(shape):
        return f"returned shape {list(value.shape)}; expected {list(shape)}"
    if not bool(torch.isfinite(value).all()):
        return "returned NaN or infinite values"
    return ""


def _quantize(module: Any, job: dict[str, Any], source: Path, timeout: float) -> dict[str, Any]:
    import torch
    from safetensors.torch import load_file, save_file

    weights = load_file(str(source))
    packed: dict[str, Any] = {}
    results: dict[str, Any] = {}
    for request in job["requests"]:
        weight = weights[request["weight"]].clone()
        status, value, elapsed = _timed(
            module.quantize, (weight, int(request["bits"]), int(request["group_size"])), timeout
        )
        message = value if status != "ok" else check_packed(value)
        if status == "ok" and message:
            status = "error"
        if status == "ok":
            for key, tensor in value.items():
                packed[f"{request['id']}::{key}"] = tensor.detach().to("cpu").contiguous().clone()
            message = ""
        results[request["id"]] = {
            "status": status,
            "message": str(message)[:MESSAGE_CHARS],
            "elapsed_s": round(elapsed, 4),
        }
    save_file(packed or {"empty": torch.zeros(0)}, PACKED_FILE)
    return results


def _dequantize(
    module: Any, job: dict[str, Any], source: Path, x_file: Path | None, timeout: float, has_qmatmul: bool
) -> dict[str, Any]:
    from safetensors.torch import load_file, save_file

    stored = load_file(str(source))
    activations = load_file(str(x_file)) if has_qmatmul and x_file is not None else {}
    restored: dict[str, Any] = {}
    results: dict[str, Any] = {}
    for request in job["requests"]:
        rid = request["id"]
        prefix = f"{rid}::"
        packed = {key[len(prefix) :]: value.clone() for key, value in stored.items() if key.startswith(prefix)}
        if not packed:
            results[rid] = {"status": "error", "message": "quantize produced nothing for this weight", "elapsed_s": 0.0}
            continue
        args = (int(request["bits"]), int(request["group_size"]), tuple(request["shape"]))
        status, value, elapsed = _timed(module.dequantize, (packed, *args), timeout)
        message = value if status != "ok" else check_restored(value, request["shape"])
        if status == "ok" and message:
            status, message = "error", f"dequantize {message}"
        if status == "ok":
            restored[rid] = value.detach().to("cpu").float().contiguous()
            message = ""
        result = {"status": status, "message": str(message)[:MESSAGE_CHARS], "elapsed_s": round(elapsed, 4)}
        x = activations.get(f"x::{request['weight']}")
        if has_qmatmul and request.get("qmatmul") and x is not None:
            packed = {key[len(prefix) :]: value.clone() for key, value in stored.items() if key.startswith(prefix)}
            q_status, q_value, q_elapsed = _timed(module.qmatmul, (x.clone(), packed, *args), timeout)
            q_message = q_value if q_status != "ok" else check_restored(q_value, [x.shape[0], request["shape"][0]])
            if q_status == "ok" and q_message:
                q_status, q_message = "error", f"qmatmul {q_message}"
            if q_status == "ok":
                restored[f"{rid}::qmatmul"] = q_value.detach().to("cpu").float().contiguous()
                q_message = ""
            result["qmatmul"] = {
                "status": q_status,
                "message": str(q_message)[:MESSAGE_CHARS],
                "elapsed_s": round(q_elapsed, 4),
            }
        results[rid] = result
    save_file(restored or {"empty": _empty()}, DEQUANTIZED_FILE)
    return results


def _empty() -> Any:
    import torch

    return torch.zeros(0)


def gpu_speed(module: Any, timeout: float) -> dict[str, Any] | None:
    """On a CUDA runner: qmatmul against the float16 matmul at full size (a 4096 x 4096 and a
    14336 x 4096 weight, 4-bit, groups of 128; 1 and 16 rows of activations), with peak memory.
    Measured in the learner's process, so reported, never graded."""
    import torch

    if not torch.cuda.is_available() or not callable(getattr(module, "qmatmul", None)):
        return None
    rows_out: list[dict[str, Any]] = []
    device = torch.device("cuda")
    generator = torch.Generator(device=device).manual_seed(0)
    for out_features, in_features in ((4096, 4096), (14336, 4096)):
        weight = torch.randn(out_features, in_features, generator=generator, device=device) * 0.02
        status, packed, _ = _timed(module.quantize, (weight, 4, 128), timeout * 10)
        if status != "ok" or check_packed(packed):
            return {"error": f"quantize on CUDA: {packed if status != 'ok' else check_packed(packed)}"}
        packed = {key: value.to(device) for key, value in packed.items()}
        half = weight.half()
        for rows in (1, 16):
            x = torch.randn(rows, in_features, generator=generator, device=device).half()
            timings = {}
            calls = {
                "fp16": functools.partial(torch.nn.functional.linear, x, half),
                "qmatmul": functools.partial(module.qmatmul, x, packed, 4, 128, (out_features, in_features)),
            }
            for label, call in calls.items():
                for _ in range(3):
                    call()
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                base = torch.cuda.memory_allocated()
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                for _ in range(20):
                    call()
                end.record()
                torch.cuda.synchronize()
                timings[label] = {
                    "ms": start.elapsed_time(end) / 20,
                    "peak_extra_mb": (torch.cuda.max_memory_allocated() - base) / 2**20,
                }
            rows_out.append({"shape": [out_features, in_features], "rows": rows, **timings})
        weight_bytes = {"fp16": half.numel() * 2, "packed": sum(v.numel() * v.element_size() for v in packed.values())}
        rows_out[-1]["weight_bytes"] = weight_bytes
    return {"device": torch.cuda.get_device_name(0), "runs": rows_out}


def run(job: dict[str, Any], source: Path, x_file: Path | None = None) -> dict[str, Any]:
    submission = Path(str(job.get("submission", "submission")))
    timeout = float(job.get("call_timeout_s", DEFAULT_CALL_TIMEOUT_S))
    module_path = find_module(submission)
    if module_path is None:
        return {"status": "no_module", "message": f"no {MODULE_NAME}.py found", "results": {}}
    signal.signal(signal.SIGALRM, _on_alarm)
    module, failure = _load(module_path, float(job.get("import_timeout_s", DEFAULT_IMPORT_TIMEOUT_S)))
    output: dict[str, Any] = {
        "status": "ok",
        "module": str(module_path.relative_to(submission)),
        "functions": {name: callable(getattr(module, name, None)) for name in FUNCTIONS},
        "import": {"ok": module is not None, "message": failure},
        "results": {},
    }
    mode = job.get("mode")
    needed = "quantize" if mode == "quantize" else "dequantize"
    if module is None or not output["functions"][needed]:
        status = "no_import" if module is None else "missing"
        message = failure or f"{module_path.name} does not define {needed}()"
        output["results"] = {r["id"]: {"status": status, "message": message, "elapsed_s": 0.0} for r in job["requests"]}
        return output
    if mode == "quantize":
        output["results"] = _quantize(module, job, source, timeout)
    else:
        output["results"] = _dequantize(module, job, source, x_file, timeout, output["functions"]["qmatmul"])
        output["speed"] = gpu_speed(module, timeout)
    return output


def main(argv: list[str]) -> int:
    if len(argv) not in (4, 5):
        print("usage: harness_learner.py input.json output.json FILE [X]", file=sys.stderr)
        return 2
    try:
        job = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
        if not isinstance(job, dict) or job.get("mode") not in ("quantize", "dequantize"):
            raise ValueError("input must be a JSON object with mode quantize or dequantize")
    except (OSError, ValueError) as exc:
        print(f"cannot read input: {exc}", file=sys.stderr)
        return 2
    os.environ.setdefault("CUDA_MODULE_LOADING", "LAZY")
    output = run(job, Path(argv[3]), Path(argv[4]) if len(argv) == 5 else None)
    Path(argv[2]).write_text(json.dumps(output), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
