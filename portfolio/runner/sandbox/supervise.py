"""Process supervision: start the command in its own session, read its output up to the cap, enforce
the wall clock, sample CPU time and peak memory from /proc, and kill the whole tree at the end."""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from portfolio.runner.protocol import Limits
from portfolio.runner.sandbox import quota
from portfolio.runner.sandbox.command import JOB_MOUNT, START_MARKER, strip_marker
from portfolio.runner.sandbox.config import SandboxConfig
from portfolio.runner.sandbox.outcome import (
    KILLED_DISK_LIMIT,
    STATUS_OUTPUT_LIMIT,
    STATUS_SANDBOX_ERROR,
    STATUS_TIMEOUT,
    SandboxResult,
    classify,
)

log = logging.getLogger(__name__)

SAMPLE_INTERVAL_S = 0.25
DRAIN_AFTER_EXIT_S = 1.0
TEARDOWN_WAIT_S = 3.0

PollHook = Callable[[], None]


def supervise(
    command: list[str],
    *,
    cwd: Path | None,
    env: dict[str, str],
    pass_fds: tuple[int, ...],
    limits: Limits,
    config: SandboxConfig,
    sandboxed: bool,
    on_poll: PollHook | None,
    disk: quota.JobFolder | None = None,
) -> SandboxResult:
    """Run `command` to the end or to a limit, in a session of its own, and say how it ended.

    `disk`, when given, is the folder whose quota is checked at every sample and once more at the
    end; sandboxed, the files in the command's own /tmp and /dev/shm are counted too."""
    user_kwargs: dict[str, object] = {}
    if config.uid is not None and os.geteuid() == 0:
        user_kwargs = {"user": config.uid, "group": config.gid, "extra_groups": []}
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
            pass_fds=pass_fds,
            start_new_session=True,
            **user_kwargs,  # type: ignore[arg-type]
        )
    except OSError as exc:
        return _launch_failure(f"could not start {command[0]}: {exc}", sandboxed, limits, started)
    watch = _Watch(
        proc,
        limits,
        deadline=started + limits.wall_s,
        on_poll=on_poll,
        disk=disk,
        tmp_files=config.max_files if sandboxed else None,
    )
    try:
        watch.loop()
    finally:
        _kill_group(proc)
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        # The kernel tears the PID namespace down after bwrap is gone: wait for the processes last
        # seen, so none still writes while the quota is checked and the folder removed.
        _wait_gone([pid for pid in watch.sampler.tree if pid != proc.pid], TEARDOWN_WAIT_S)
    if watch.killed_by is None and disk is not None:
        # Written between the last sample and the end (or right up to the kernel's cap).
        reason = disk.exceeded()
        if reason:
            watch.killed_by, watch.disk_reason = KILLED_DISK_LIMIT, reason
    wall = time.monotonic() - started
    stdout = watch.buffers["stdout"].decode("utf-8", "replace")
    stderr = watch.buffers["stderr"].decode("utf-8", "replace")
    started_cmd = True
    if sandboxed:
        started_cmd, stderr = strip_marker(stderr)
    status, exit_code, sig, message = classify(
        proc.returncode,
        killed_by=watch.killed_by,
        started=started_cmd,
        sandboxed=sandboxed,
        stderr=stderr,
        limits=limits,
        cpu_s=watch.sampler.cpu_s,
        peak_rss_mb=watch.sampler.peak_rss_mb,
        wall_s=wall,
        disk_reason=watch.disk_reason,
    )
    return SandboxResult(
        status=status,
        exit_code=exit_code,
        signal=sig,
        wall_s=wall,
        cpu_s=watch.sampler.cpu_s,
        peak_rss_mb=watch.sampler.peak_rss_mb,
        stdout=stdout,
        stderr=stderr,
        sandboxed=sandboxed,
        message=message,
        output_truncated=watch.killed_by == STATUS_OUTPUT_LIMIT,
        limits=limits,
    )


class _Watch:
    """Reads both pipes up to the output cap, enforces the wall clock, samples /proc."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        limits: Limits,
        *,
        deadline: float,
        on_poll: PollHook | None,
        disk: quota.JobFolder | None = None,
        tmp_files: int | None = None,
    ):
        self.proc = proc
        self.deadline = deadline
        self.on_poll = on_poll
        self.disk = disk
        self.tmp_files = tmp_files
        self.disk_reason: str | None = None
        # The start marker is ours, so it does not count against the submission's output.
        self.cap = (limits.output_kb << 10) + len(START_MARKER) + 1
        self.total = 0
        self.killed_by: str | None = None
        self.buffers = {"stdout": bytearray(), "stderr": bytearray()}
        self.sampler = _TreeSampler(proc.pid)
        self.selector = selectors.DefaultSelector()
        for name, stream in (("stdout", proc.stdout), ("stderr", proc.stderr)):
            assert stream is not None
            os.set_blocking(stream.fileno(), False)
            self.selector.register(stream.fileno(), selectors.EVENT_READ, name)

    def loop(self) -> None:
        next_sample = 0.0
        exited_at: float | None = None
        try:
            while True:
                now = time.monotonic()
                if exited_at is None and self.proc.poll() is not None:
                    exited_at = now
                if exited_at is not None:
                    # Drain what is left in the pipes; a leftover process that keeps them open
                    # (possible only unsandboxed) is killed by _kill_group afterwards.
                    if not self.selector.get_map() or now - exited_at > DRAIN_AFTER_EXIT_S:
                        return
                elif now >= self.deadline:
                    self._kill(STATUS_TIMEOUT)
                    return
                wait = min(0.1, max(self.deadline - now, 0.0))
                if self.selector.get_map():
                    self._read(timeout=wait)
                else:
                    time.sleep(wait)  # it closed its pipes but is still running
                if self.killed_by:
                    return
                if now >= next_sample:
                    self.sampler.sample()
                    if self._past_quota():
                        return
                    self._poll_hook()
                    next_sample = now + SAMPLE_INTERVAL_S
        finally:
            self.selector.close()

    def _read(self, timeout: float) -> None:
        for key, _ in self.selector.select(timeout=timeout):
            try:
                chunk = os.read(key.fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                self.selector.unregister(key.fd)
                continue
            room = self.cap - self.total
            self.buffers[key.data] += chunk[: max(room, 0)]
            self.total += len(chunk)
            if self.total > self.cap:
                # Stop reading at once: a chatty process must not cost us memory or time.
                self._kill(STATUS_OUTPUT_LIMIT)
                return

    def _kill(self, reason: str) -> None:
        self.killed_by = reason
        self.sampler.sample()
        _kill_group(self.proc)

    def _past_quota(self) -> bool:
        reason = self.disk.exceeded() if self.disk is not None else None
        if reason is None and self.tmp_files is not None:
            try:
                reason = quota.sandbox_tmp_exceeded(
                    self.sampler.tree, skip=self.proc.pid, inside=JOB_MOUNT, max_files=self.tmp_files
                )
            except OSError as exc:
                log.warning("could not count the sandbox's /tmp: %s", exc)
        if reason is None:
            return False
        self.disk_reason = reason
        self._kill(KILLED_DISK_LIMIT)
        return True

    def _poll_hook(self) -> None:
        if self.on_poll is None:
            return
        try:
            self.on_poll()
        except Exception:
            log.exception("sandbox poll hook failed")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """The launcher leads its own session, so its group holds prlimit/bwrap (or, unsandboxed, the
    command itself). Killing bwrap kills its PID namespace: --die-with-parent sends SIGKILL to the
    namespace's init, and the kernel then kills every process left in it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _wait_gone(pids: list[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    waiting = list(pids)
    while waiting and time.monotonic() < deadline:
        waiting = [pid for pid in waiting if _running(pid)]
        if waiting:
            time.sleep(0.02)
    if waiting:
        log.warning("sandboxed processes %s still running %.0f s after the kill", waiting, timeout)


def _running(pid: int) -> bool:
    """False once the process has exited (gone, or a zombie waiting to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return False
    state = raw[raw.rfind(b")") + 2 : raw.rfind(b")") + 3]
    return state not in (b"Z", b"X")


class _TreeSampler:
    """CPU time and peak RSS of a process tree, read from /proc (wait4 on bwrap sees only bwrap)."""

    def __init__(self, root_pid: int) -> None:
        self.root = root_pid
        self.cpu_s: float | None = None
        self.peak_rss_mb: float | None = None
        self.tree: list[int] = []
        self._ticks = os.sysconf("SC_CLK_TCK")

    def sample(self) -> None:
        try:
            stats = _read_proc_stats()
        except OSError:
            return
        tree = _descendants(self.root, stats)
        self.tree = tree
        if not tree:
            return
        cpu = sum(stats[pid][1] for pid in tree) / self._ticks
        self.cpu_s = max(self.cpu_s or 0.0, cpu)
        for pid in tree:
            hwm = _peak_rss_kb(pid)
            if hwm is not None:
                self.peak_rss_mb = max(self.peak_rss_mb or 0.0, hwm / 1024)


def _read_proc_stats() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, utime+stime+cutime+cstime in ticks) for every visible process."""
    stats: dict[int, tuple[int, int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        # The command name is in parentheses and may contain spaces; fields follow the last ")".
        rest = raw[raw.rfind(b")") + 2 :].split()
        try:
            ppid = int(rest[1])
            ticks = int(rest[11]) + int(rest[12]) + int(rest[13]) + int(rest[14])
        except (IndexError, ValueError):
            continue
        stats[int(name)] = (ppid, ticks)
    return stats


def _descendants(root: int, stats: dict[int, tuple[int, int]]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        if pid in stats:
            found.append(pid)
        stack.extend(children.get(pid, ()))
    return found


def _peak_rss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _launch_failure(message: str, sandboxed: bool, limits: Limits, started: float) -> SandboxResult:
    return SandboxResult(
        status=STATUS_SANDBOX_ERROR,
        exit_code=None,
        signal=None,
        wall_s=time.monotonic() - started,
        cpu_s=None,
        peak_rss_mb=None,
        stdout="",
        stderr="",
        sandboxed=sandboxed,
        message=message,
        limits=limits,
    )
