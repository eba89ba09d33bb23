"""The sandbox's configuration: the tools, the interpreter, the unprivileged user, GPU device nodes.

`SandboxConfig.from_env()` reads the RUNNER_* variables (README.md, "Configuration"); a setting
that cannot be honoured raises `SandboxUnavailable`, which the worker reports as a system error
rather than running untrusted code with less isolation than configured.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SANDBOX_UID = 65534
# The per-job disk quota (quota.py): what all of a job's sandboxed steps may write to their
# folders together, and how many files they (and, separately, each step's /tmp and /dev/shm) may
# hold. Every grader's own use fits well inside: the quantizer leaves 39 MB, the tiny
# transformer under 1 MB (about 100 MB of tensors at its GPU "full" size); docs/runner.md.
DEFAULT_DISK_MB = 1024
DEFAULT_MAX_FILES = 10_000
QUOTA_MODES = ("auto", "mount", "poll")
_TRUTHY = {"1", "true", "yes", "on"}


class SandboxUnavailable(RuntimeError):
    """bubblewrap does not work here and unsandboxed runs are not allowed."""


@dataclass(frozen=True)
class SandboxConfig:
    """Everything the launcher needs, read from the environment (see README.md for the variables)."""

    bwrap: str = "/usr/bin/bwrap"
    prlimit: str = "/usr/bin/prlimit"
    python: str = sys.executable
    uid: int | None = DEFAULT_SANDBOX_UID
    gid: int | None = DEFAULT_SANDBOX_UID
    allow_unsandboxed: bool = False
    allow_no_seccomp: bool = False
    threads: int = 2
    extra_ro_binds: tuple[str, ...] = ()
    gpu_devices: tuple[str, ...] = ()
    disk_mb: int = DEFAULT_DISK_MB
    max_files: int = DEFAULT_MAX_FILES
    quota_mode: str = "auto"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SandboxConfig:
        env = os.environ if environ is None else environ
        uid = gid = None
        if os.geteuid() == 0:
            uid = _env_int(env, "RUNNER_SANDBOX_UID", DEFAULT_SANDBOX_UID)
            gid = _env_int(env, "RUNNER_SANDBOX_GID", uid)
        if uid == 0 or gid == 0:
            # RLIMIT_NPROC is not enforced for root (research 2a): refuse rather than run unlimited.
            raise SandboxUnavailable("RUNNER_SANDBOX_UID/GID must not be 0; use an unprivileged user such as 65534")
        disk_mb = _env_int(env, "RUNNER_JOB_DISK_MB", DEFAULT_DISK_MB)
        max_files = _env_int(env, "RUNNER_JOB_MAX_FILES", DEFAULT_MAX_FILES)
        if disk_mb < 1 or max_files < 1:
            raise SandboxUnavailable("RUNNER_JOB_DISK_MB and RUNNER_JOB_MAX_FILES must be at least 1")
        quota_mode = env.get("RUNNER_JOB_QUOTA", "").strip().lower() or "auto"
        if quota_mode not in QUOTA_MODES:
            raise SandboxUnavailable(f"RUNNER_JOB_QUOTA must be one of {', '.join(QUOTA_MODES)}, got {quota_mode!r}")
        return cls(
            bwrap=env.get("RUNNER_BWRAP") or shutil.which("bwrap") or "/usr/bin/bwrap",
            prlimit=env.get("RUNNER_PRLIMIT") or shutil.which("prlimit") or "/usr/bin/prlimit",
            python=env.get("RUNNER_PYTHON") or _default_python(),
            uid=uid,
            gid=gid,
            allow_unsandboxed=env.get("RUNNER_ALLOW_UNSANDBOXED", "").strip().lower() in _TRUTHY,
            allow_no_seccomp=env.get("RUNNER_ALLOW_NO_SECCOMP", "").strip().lower() in _TRUTHY,
            threads=_env_int(env, "RUNNER_THREADS", min(4, os.cpu_count() or 1)),
            extra_ro_binds=tuple(p for p in env.get("RUNNER_SANDBOX_RO_BINDS", "").split(":") if p),
            gpu_devices=tuple(sorted(p for p in glob.glob("/dev/nvidia*") if not os.path.isdir(p)))
            + tuple(p for p in ("/dev/nvidia-caps",) if os.path.isdir(p)),
            disk_mb=disk_mb,
            max_files=max_files,
            quota_mode=quota_mode,
        )

    @property
    def gpu(self) -> bool:
        return bool(self.gpu_devices)


def _env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SandboxUnavailable(f"{name} must be an integer, got {raw!r}") from None


def _default_python() -> str:
    """The runner worker's own interpreter is the runner env; from elsewhere (tests run by the web
    env), prefer the repository's .venv-runner when it exists."""
    repo_env = Path(__file__).resolve().parents[3] / ".venv-runner" / "bin" / "python"
    if repo_env.exists():
        return str(repo_env)
    return sys.executable
