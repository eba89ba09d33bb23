"""The runner's environment manifest: what every result says it was measured on.

Collected by running harness/probe.py under RUNNER_PYTHON in the sandbox, never by importing
torch here: the Celery worker forks, and CUDA must not be initialised before a fork.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any

from portfolio.runner.protocol import Limits
from portfolio.runner.sandbox import launch
from portfolio.runner.sandbox.command import CODE_MOUNT
from portfolio.runner.sandbox.config import SandboxConfig, SandboxUnavailable

HARNESS_DIR = Path(__file__).resolve().parent / "harness"
PROBE_SCRIPT = HARNESS_DIR / "probe.py"
# Importing torch takes about 1-2 s on a CPU host and initialising CUDA a few more on a GPU host.
PROBE_LIMITS = Limits(wall_s=120, cpu_s=120, memory_mb=8192, processes=256, output_kb=64)
MAX_OUTPUT_BYTES = 64 * 1024

_cache: dict[SandboxConfig, dict[str, Any]] = {}
_lock = threading.Lock()


def collect(config: SandboxConfig | None = None, *, refresh: bool = False) -> dict[str, Any]:
    """The manifest for this worker process (cached per config). Never raises: a probe that fails
    is recorded in `probe_error`, because a result must still say where it ran."""
    config = config or SandboxConfig.from_env()
    with _lock:
        if refresh or config not in _cache:
            _cache[config] = _collect(config)
        return dict(_cache[config])


def _collect(config: SandboxConfig) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "device": None,
        "device_kind": None,
        "driver": None,
        "cuda": None,
        "gpu_count": 0,
        "gpu_memory_mb": [],
        "torch": None,
        "transformers": None,
        "numpy": None,
        "python": None,
        "platform": None,
        "cpu_model": None,
        "cpu_count": os.cpu_count(),
        "hostname": socket.gethostname(),
        "runner_python": config.python,
    }
    try:
        sandboxed = launch.ensure_available(config)
    except SandboxUnavailable as exc:
        manifest.update(sandbox="unavailable", sandboxed=False, probe_error=str(exc))
        return manifest
    manifest["sandbox"] = launch.probe(config).label if sandboxed else "unsandboxed"
    manifest["sandboxed"] = sandboxed
    if not os.access(config.python, os.X_OK):
        manifest["probe_error"] = f"RUNNER_PYTHON {config.python} is not an executable file"
        return manifest
    facts, error = _run_probe(config)
    manifest.update({k: v for k, v in facts.items() if k in _PROBE_KEYS})
    if error:
        manifest["probe_error"] = error
    return manifest


_PROBE_KEYS = {
    "device",
    "device_kind",
    "driver",
    "cuda",
    "gpu_count",
    "gpu_memory_mb",
    "gpu_names",
    "torch",
    "torch_error",
    "cuda_error",
    "transformers",
    "numpy",
    "python",
    "python_implementation",
    "platform",
    "machine",
    "cpu_model",
    "cpu_count",
}


def _run_probe(config: SandboxConfig) -> tuple[dict[str, Any], str | None]:
    work = Path(tempfile.mkdtemp(prefix="layerwise-env-"))
    try:
        launch.prepare_work_dir(work, config)
        (work / "input.json").write_text(json.dumps({"cuda": config.gpu}))
        inside = f"{CODE_MOUNT}/harness/probe.py"
        result = launch.run(
            [config.python, "-I", str(PROBE_SCRIPT), "input.json", "output.json"],
            work_dir=work,
            limits=PROBE_LIMITS,
            ro_binds=[(str(PROBE_SCRIPT), inside)],
            config=config,
        )
        if not result.ok:
            return (
                {},
                f"the environment probe failed: {result.message}: {result.tail('stderr', 500)}",
            )
        return _read_json(work / "output.json"), None
    except (OSError, ValueError, SandboxUnavailable) as exc:
        return {}, f"the environment probe failed: {exc}"
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _read_json(path: Path) -> dict[str, Any]:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        data = json.loads(f.read(MAX_OUTPUT_BYTES))
    if not isinstance(data, dict):
        raise ValueError("probe output is not a JSON object")
    return data
