"""Describe the runner's Python and device environment. Runs inside the sandbox, so the worker
process itself never imports torch or touches CUDA.

input.json: {"cuda": bool}. Importing torch costs seconds, so it is imported only when the host
has NVIDIA device nodes (to ask CUDA about the GPUs); otherwise versions come from package
metadata and the device is the CPU.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from typing import Any


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return platform.processor() or None


def nvidia_driver() -> str | None:
    try:
        with open("/proc/driver/nvidia/version", encoding="utf-8") as f:
            first = f.readline()
        for word in first.split():
            if word[:1].isdigit() and "." in word:
                return word
    except OSError:
        pass
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def torch_facts(probe_cuda: bool) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "torch": package_version("torch"),
        "device": "cpu",
        "device_kind": "cpu",
        "cuda": None,
        "gpu_count": 0,
        "gpu_memory_mb": [],
        "gpu_names": [],
    }
    if not probe_cuda:
        return facts
    try:
        import torch
    except Exception as exc:  # a broken torch is a fact about the environment, not a crash
        facts["torch_error"] = f"{type(exc).__name__}: {exc}"
        return facts
    facts["torch"] = torch.__version__
    facts["cuda"] = torch.version.cuda
    try:
        available = torch.cuda.is_available()
    except Exception as exc:
        facts["cuda_error"] = f"{type(exc).__name__}: {exc}"
        available = False
    if available:
        count = torch.cuda.device_count()
        props = [torch.cuda.get_device_properties(i) for i in range(count)]
        facts.update(
            device=props[0].name if props else "cuda",
            device_kind="cuda",
            gpu_count=count,
            gpu_names=[p.name for p in props],
            gpu_memory_mb=[p.total_memory // (1024 * 1024) for p in props],
        )
    return facts


def main(argv: list[str]) -> int:
    input_path = argv[1] if len(argv) > 1 else "input.json"
    output_path = argv[2] if len(argv) > 2 else "output.json"
    try:
        with open(input_path, encoding="utf-8") as f:
            probe_cuda = bool(json.load(f).get("cuda", True))
    except (OSError, ValueError, AttributeError):
        probe_cuda = True
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "numpy": package_version("numpy"),
        "transformers": package_version("transformers"),
        "executable": sys.executable,
    }
    info.update(torch_facts(probe_cuda))
    info["driver"] = nvidia_driver() if info["device_kind"] == "cuda" else None
    with open(output_path, "w", encoding="utf-8") as f:
        json.dump(info, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
