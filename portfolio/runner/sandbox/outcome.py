"""How a sandboxed command ended: the statuses, `SandboxResult`, and `classify`, which tells the
submission's failures (exit status, signal, CPU time, memory, output) from the sandbox's own."""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass, field

from portfolio.runner.protocol import Limits

STATUS_OK = "ok"
STATUS_NONZERO_EXIT = "nonzero_exit"
STATUS_TIMEOUT = "timeout"
STATUS_MEMORY = "memory"
STATUS_CPU_LIMIT = "cpu_limit"
STATUS_OUTPUT_LIMIT = "output_limit"
STATUS_KILLED = "killed"
STATUS_SANDBOX_ERROR = "sandbox_error"
# Why the supervisor killed a command past the disk quota (quota.py); it reads as STATUS_OUTPUT_LIMIT
# (the verdict output_limit) with a message naming the limit and its figure.
KILLED_DISK_LIMIT = "disk_limit"

_MEMORY_PATTERNS = re.compile(
    r"MemoryError|OutOfMemoryError|out of memory|Cannot allocate memory|can't allocate memory|std::bad_alloc",
    re.IGNORECASE,
)


@dataclass
class SandboxResult:
    """What happened to one sandboxed command. `cpu_s` and `peak_rss_mb` are sampled from /proc
    every supervise.SAMPLE_INTERVAL_S while it runs, so they are lower bounds (short-lived children can be
    missed); None when nothing could be sampled."""

    status: str
    exit_code: int | None
    signal: int | None
    wall_s: float
    cpu_s: float | None
    peak_rss_mb: float | None
    stdout: str
    stderr: str
    sandboxed: bool
    message: str
    output_truncated: bool = False
    limits: Limits = field(default_factory=Limits)

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    def tail(self, stream: str = "stderr", max_chars: int = 4000) -> str:
        text = self.stdout if stream == "stdout" else self.stderr
        return text[-max_chars:]

    def summary(self) -> dict[str, object]:
        return {
            "status": self.status,
            "exit_code": self.exit_code,
            "signal": self.signal,
            "wall_s": round(self.wall_s, 3),
            "cpu_s": None if self.cpu_s is None else round(self.cpu_s, 3),
            "peak_rss_mb": None if self.peak_rss_mb is None else round(self.peak_rss_mb, 1),
            "sandboxed": self.sandboxed,
            "message": self.message,
        }


def classify(
    returncode: int | None,
    *,
    killed_by: str | None,
    started: bool,
    sandboxed: bool,
    stderr: str,
    limits: Limits,
    cpu_s: float | None,
    peak_rss_mb: float | None,
    wall_s: float,
    disk_reason: str | None = None,
) -> tuple[str, int | None, int | None, str]:
    """(status, exit code, signal, message) for a finished command.

    Honest about ambiguity: bwrap reports a command killed by signal N as exit status 128+N, so a
    program that itself exits with 137 reads as SIGKILL. Memory exhaustion is recognised from the
    error text (MemoryError, CUDA/torch out-of-memory, bad_alloc) under the address-space cap, or
    a SIGKILL near the cap; a kernel OOM kill without a cap reads as `killed`.
    """
    if killed_by == KILLED_DISK_LIMIT:
        # Past the quota is past it, however the command ended afterwards (a write that failed
        # with ENOSPC often ends it with a traceback first).
        return (
            STATUS_OUTPUT_LIMIT,
            None if returncode is None else _split_status(returncode, sandboxed)[0],
            int(signal.SIGKILL),
            f"{disk_reason or 'went past the disk quota'} and was stopped",
        )
    if killed_by == STATUS_OUTPUT_LIMIT:
        return (
            STATUS_OUTPUT_LIMIT,
            None,
            int(signal.SIGKILL),
            f"printed more than {limits.output_kb} KiB of output and was killed",
        )
    if killed_by == STATUS_TIMEOUT:
        if sandboxed and not started:
            return (
                STATUS_SANDBOX_ERROR,
                None,
                None,
                "the sandbox did not start the command before the wall-clock limit",
            )
        return (
            STATUS_TIMEOUT,
            None,
            int(signal.SIGKILL),
            f"was killed at the wall-clock limit of {limits.wall_s} s",
        )
    if sandboxed and not started:
        first = stderr.strip().splitlines()[0] if stderr.strip() else f"exit status {returncode}"
        return (
            STATUS_SANDBOX_ERROR,
            returncode,
            None,
            f"the sandbox failed before the command started: {first}",
        )
    if returncode == 0:
        return STATUS_OK, 0, None, "exited with status 0"
    exit_code, sig = _split_status(returncode, sandboxed)
    tail = stderr[-2000:]
    if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu_s is not None and cpu_s >= limits.cpu_s):
        return (
            STATUS_CPU_LIMIT,
            exit_code,
            sig,
            f"was killed at the CPU-time limit of {limits.cpu_s} s",
        )
    if _MEMORY_PATTERNS.search(tail):
        return (
            STATUS_MEMORY,
            exit_code,
            sig,
            f"ran out of memory (limit {limits.memory_mb} MiB)",
        )
    if sig == signal.SIGKILL and peak_rss_mb is not None and peak_rss_mb >= 0.9 * limits.memory_mb:
        return (
            STATUS_MEMORY,
            exit_code,
            sig,
            f"was killed near the memory limit of {limits.memory_mb} MiB",
        )
    if sig == signal.SIGKILL:
        return (
            STATUS_KILLED,
            exit_code,
            sig,
            "was killed by SIGKILL from outside (possibly the kernel's OOM killer)",
        )
    if sig is not None:
        return (
            STATUS_NONZERO_EXIT,
            exit_code,
            sig,
            f"was killed by signal {_signal_name(sig)}",
        )
    return STATUS_NONZERO_EXIT, exit_code, None, f"exited with status {exit_code}"


def _split_status(returncode: int | None, sandboxed: bool) -> tuple[int | None, int | None]:
    if returncode is None:
        return None, None
    if returncode < 0:
        return None, -returncode
    if sandboxed and 128 < returncode < 128 + 65:
        return returncode, returncode - 128
    return returncode, None


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return str(sig)
