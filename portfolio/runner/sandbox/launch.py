"""Running a command in the sandbox: whether bwrap works here (`probe`, cached), `run`, and the
explicit unsandboxed fallback for development (RUNNER_ALLOW_UNSANDBOXED)."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from portfolio.runner.protocol import Limits
from portfolio.runner.sandbox import quota, seccomp
from portfolio.runner.sandbox.command import JOB_MOUNT, rlimit_prefix, sandbox_env, sandboxed_command
from portfolio.runner.sandbox.config import SandboxConfig, SandboxUnavailable
from portfolio.runner.sandbox.outcome import SandboxResult
from portfolio.runner.sandbox.supervise import PollHook, supervise

log = logging.getLogger(__name__)

PROBE_RETRY_S = 60.0


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    version: str | None = None
    reason: str | None = None

    @property
    def label(self) -> str:
        return self.version or "bubblewrap"


# --- availability --------------------------------------------------------------------------------


def probe(config: SandboxConfig | None = None) -> ProbeResult:
    """Whether bwrap really runs a command here. Cached per config for the life of the process;
    a failure is re-checked after PROBE_RETRY_S, so a transient one does not stick."""
    config = config or SandboxConfig.from_env()
    with _probe_lock:
        cached = _probe_cache.get(config)
        if cached is None or (not cached[0].ok and time.monotonic() - cached[1] > PROBE_RETRY_S):
            cached = (_probe_uncached(config), time.monotonic())
            _probe_cache[config] = cached
        return cached[0]


_probe_cache: dict[SandboxConfig, tuple[ProbeResult, float]] = {}
_probe_lock = threading.Lock()
_warned_unsandboxed: set[SandboxConfig] = set()


def _probe_uncached(config: SandboxConfig) -> ProbeResult:
    for tool, setting in (
        (config.bwrap, "RUNNER_BWRAP"),
        (config.prlimit, "RUNNER_PRLIMIT"),
    ):
        if not os.access(tool, os.X_OK):
            return ProbeResult(
                False,
                reason=f"{tool} is not an executable file; install it or set {setting}",
            )
    missing_filter = seccomp.available()
    if missing_filter is not None:
        if not config.allow_no_seccomp:
            return ProbeResult(
                False,
                reason=f"the seccomp filter cannot be built ({missing_filter}); install libseccomp2, "
                "or for development only set RUNNER_ALLOW_NO_SECCOMP=1",
            )
        log.warning("no seccomp filter (%s); RUNNER_ALLOW_NO_SECCOMP=1, sandboxing without it", missing_filter)
    try:
        version = subprocess.run(
            [config.bwrap, "--version"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return ProbeResult(False, reason=f"{config.bwrap} --version failed: {exc}")
    work = Path(tempfile.mkdtemp(prefix="layerwise-probe-"))
    try:
        prepare_work_dir(work, config)
        result = _run_sandboxed(
            ["/usr/bin/true"],
            work_dir=work,
            limits=Limits(wall_s=20, memory_mb=256),
            config=config,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not result.ok:
        return ProbeResult(
            False,
            version=version or None,
            reason=f"bwrap could not run `true`: {result.message}",
        )
    return ProbeResult(True, version=version or "bubblewrap")


def ensure_available(config: SandboxConfig) -> bool:
    """True when commands will be sandboxed, False when the unsandboxed fallback is allowed;
    raises SandboxUnavailable otherwise."""
    result = probe(config)
    if result.ok:
        return True
    if config.allow_unsandboxed:
        if config in _warned_unsandboxed:
            return False
        _warned_unsandboxed.add(config)
        log.warning(
            "sandbox unavailable (%s); RUNNER_ALLOW_UNSANDBOXED=1, running unsandboxed",
            result.reason,
        )
        return False
    raise SandboxUnavailable(
        f"the bubblewrap sandbox does not work on this host: {result.reason}. "
        "Untrusted code is refused; fix bwrap, or for development only set RUNNER_ALLOW_UNSANDBOXED=1."
    )


def sandbox_label(config: SandboxConfig) -> str:
    result = probe(config)
    return result.label if result.ok else "unsandboxed"


def prepare_work_dir(path: Path, config: SandboxConfig) -> None:
    """Make `path` the sandbox user's private writable folder."""
    path.mkdir(parents=True, exist_ok=True)
    if config.uid is not None and os.geteuid() == 0:
        os.chown(path, config.uid, config.gid if config.gid is not None else config.uid)
    os.chmod(path, 0o700)


def disk_quota(work_dir: Path, config: SandboxConfig) -> quota.JobFolder:
    """The quota `work_dir` is under: its job's folder (jobs.py opens one per job, so all the job's
    steps share it), or else `work_dir` alone, polled, with the configured limits."""
    return quota.folder_for(work_dir) or quota.JobFolder(
        Path(work_dir), mode=quota.MODE_POLL, disk_bytes=config.disk_mb << 20, max_files=config.max_files
    )


# --- running -------------------------------------------------------------------------------------


def run(
    argv: Sequence[str],
    *,
    work_dir: Path,
    limits: Limits,
    ro_binds: Sequence[tuple[str, str]] = (),
    on_poll: PollHook | None = None,
    config: SandboxConfig | None = None,
) -> SandboxResult:
    """Run `argv` with `work_dir` as its writable working folder (mounted at /job).

    `ro_binds` are (host path, path inside) pairs. Paths in `argv` are host paths; ones under a
    bound host path are rewritten to the inside path. Raises SandboxUnavailable when bwrap does
    not work and RUNNER_ALLOW_UNSANDBOXED is not set.
    """
    config = config or SandboxConfig.from_env()
    if ensure_available(config):
        return _run_sandboxed(
            argv,
            work_dir=work_dir,
            limits=limits,
            ro_binds=ro_binds,
            on_poll=on_poll,
            config=config,
        )
    return _run_unsandboxed(
        argv,
        work_dir=work_dir,
        limits=limits,
        ro_binds=ro_binds,
        on_poll=on_poll,
        config=config,
    )


def _run_sandboxed(
    argv: Sequence[str],
    *,
    work_dir: Path,
    limits: Limits,
    config: SandboxConfig,
    ro_binds: Sequence[tuple[str, str]] = (),
    on_poll: PollHook | None = None,
) -> SandboxResult:
    with sandboxed_command(argv, work_dir=work_dir, limits=limits, config=config, ro_binds=ro_binds) as (
        command,
        pass_fds,
    ):
        return supervise(
            command,
            cwd=None,
            env={"PATH": "/usr/bin:/bin"},
            pass_fds=pass_fds,
            limits=limits,
            config=config,
            sandboxed=True,
            on_poll=on_poll,
            disk=disk_quota(work_dir, config),
        )


def _run_unsandboxed(
    argv: Sequence[str],
    *,
    work_dir: Path,
    limits: Limits,
    config: SandboxConfig,
    ro_binds: Sequence[tuple[str, str]] = (),
    on_poll: PollHook | None = None,
) -> SandboxResult:
    # Only the binds that live inside the job folder need a stand-in (a symlink), so that relative
    # paths such as "submission/main.py" mean the same thing in both modes.
    for host, inside in ro_binds:
        if inside.startswith(JOB_MOUNT + "/"):
            link = work_dir / inside[len(JOB_MOUNT) + 1 :]
            if link.is_dir() and not link.is_symlink() and not any(link.iterdir()):
                link.rmdir()
            if not link.exists():
                link.symlink_to(host)
    return supervise(
        [*rlimit_prefix(config, limits), *argv],
        cwd=work_dir,
        env=sandbox_env(config, home=str(work_dir), python=config.python),
        pass_fds=(),
        limits=limits,
        config=config,
        sandboxed=False,
        on_poll=on_poll,
        disk=disk_quota(work_dir, config),
    )
