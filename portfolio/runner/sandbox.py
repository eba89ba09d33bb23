"""Run untrusted code under bubblewrap as an unprivileged user, with rlimits and a wall clock.

The shape of one sandboxed command (see README.md, "Sandbox"):

    Popen(user=RUNNER_SANDBOX_UID, start_new_session=True)      # uid dropped in C, thread-safe
      prlimit --cpu --as --nproc --fsize --nofile --core -- \\   # rlimits set as the dropped uid
        bwrap <mounts> --unshare-all --die-with-parent ... \\
          /usr/bin/sh -c 'echo <marker> >&2; exec "$@"' sh <argv>

The marker line tells our failure from the submission's: if bwrap exits without it, the command
never started, so the error is bwrap's own (`sandbox_error`), whatever the stderr says.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from portfolio.runner.protocol import Limits

log = logging.getLogger(__name__)

STATUS_OK = "ok"
STATUS_NONZERO_EXIT = "nonzero_exit"
STATUS_TIMEOUT = "timeout"
STATUS_MEMORY = "memory"
STATUS_CPU_LIMIT = "cpu_limit"
STATUS_OUTPUT_LIMIT = "output_limit"
STATUS_KILLED = "killed"
STATUS_SANDBOX_ERROR = "sandbox_error"

JOB_MOUNT = "/job"
CODE_MOUNT = "/opt/layerwise"
SANDBOX_HOSTNAME = "sandbox"
START_MARKER = "layerwise-sandbox: command started"
DEFAULT_SANDBOX_UID = 65534
SAMPLE_INTERVAL_S = 0.25
DRAIN_AFTER_EXIT_S = 1.0
PROBE_RETRY_S = 60.0
NOFILE_LIMIT = 1024
_SHELL = "/usr/bin/sh"
_TRAMPOLINE = f'echo "{START_MARKER}" >&2; exec "$@"'
_MEMORY_PATTERNS = re.compile(
    r"MemoryError|OutOfMemoryError|out of memory|Cannot allocate memory|can't allocate memory|std::bad_alloc",
    re.IGNORECASE,
)
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
    threads: int = 2
    extra_ro_binds: tuple[str, ...] = ()
    gpu_devices: tuple[str, ...] = ()

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
        return cls(
            bwrap=env.get("RUNNER_BWRAP") or shutil.which("bwrap") or "/usr/bin/bwrap",
            prlimit=env.get("RUNNER_PRLIMIT") or shutil.which("prlimit") or "/usr/bin/prlimit",
            python=env.get("RUNNER_PYTHON") or _default_python(),
            uid=uid,
            gid=gid,
            allow_unsandboxed=env.get("RUNNER_ALLOW_UNSANDBOXED", "").strip().lower() in _TRUTHY,
            threads=_env_int(env, "RUNNER_THREADS", min(4, os.cpu_count() or 1)),
            extra_ro_binds=tuple(p for p in env.get("RUNNER_SANDBOX_RO_BINDS", "").split(":") if p),
            gpu_devices=tuple(sorted(p for p in glob.glob("/dev/nvidia*") if not os.path.isdir(p)))
            + tuple(p for p in ("/dev/nvidia-caps",) if os.path.isdir(p)),
        )

    @property
    def gpu(self) -> bool:
        return bool(self.gpu_devices)


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    version: str | None = None
    reason: str | None = None

    @property
    def label(self) -> str:
        return self.version or "bubblewrap"


@dataclass
class SandboxResult:
    """What happened to one sandboxed command. `cpu_s` and `peak_rss_mb` are sampled from /proc
    every SAMPLE_INTERVAL_S while it runs, so they are lower bounds (short-lived children can be
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


# --- running -------------------------------------------------------------------------------------


PollHook = Callable[[], None]


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
    with _passwd_files(config) as data_fds:
        command = [
            *rlimit_prefix(config, limits),
            *bwrap_argv(
                config,
                work_dir=work_dir,
                limits=limits,
                ro_binds=ro_binds,
                data_fds=data_fds,
            ),
            _SHELL,
            "-c",
            _TRAMPOLINE,
            "sh",
            *translate_argv(argv, ro_binds),
        ]
        return _supervise(
            command,
            cwd=None,
            env={"PATH": "/usr/bin:/bin"},
            pass_fds=tuple(fd for fd, _ in data_fds),
            limits=limits,
            config=config,
            sandboxed=True,
            on_poll=on_poll,
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
    return _supervise(
        [*rlimit_prefix(config, limits), *argv],
        cwd=work_dir,
        env=sandbox_env(config, home=str(work_dir), python=config.python),
        pass_fds=(),
        limits=limits,
        config=config,
        sandboxed=False,
        on_poll=on_poll,
    )


def rlimit_prefix(config: SandboxConfig, limits: Limits) -> list[str]:
    """prlimit runs after Popen has dropped to the sandbox uid, so these are that user's limits."""
    cpu = limits.cpu_s
    prefix = [
        config.prlimit,
        # SIGXCPU at the soft limit, SIGKILL one second later if it is ignored.
        f"--cpu={cpu}:{cpu + 1}",
        f"--nproc={limits.processes}",
        f"--fsize={limits.file_mb << 20}",
        f"--nofile={NOFILE_LIMIT}",
        "--core=0",
    ]
    if not config.gpu:
        # The CUDA driver reserves huge virtual ranges, so an address-space cap breaks CUDA
        # (research 2e); GPU hosts have no host-memory cap here (cgroups would be needed).
        prefix.append(f"--as={limits.memory_mb << 20}")
    return [*prefix, "--"]


def bwrap_argv(
    config: SandboxConfig,
    *,
    work_dir: Path,
    limits: Limits,
    ro_binds: Sequence[tuple[str, str]] = (),
    data_fds: Sequence[tuple[int, str]] = (),
) -> list[str]:
    args = [config.bwrap, "--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for path in ("/etc/ld.so.cache", "/etc/alternatives", "/etc/localtime"):
        args += ["--ro-bind-try", path, path]
    for fd, dest in data_fds:
        args += ["--ro-bind-data", str(fd), dest]
    tmp_bytes = str(limits.tmp_mb << 20)
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += [
        "--size",
        tmp_bytes,
        "--tmpfs",
        "/tmp",
        "--size",
        tmp_bytes,
        "--tmpfs",
        "/dev/shm",
    ]
    args += ["--bind", str(work_dir), JOB_MOUNT]
    for host in _runtime_dirs(config):
        args += ["--ro-bind", host, host]
    for host, inside in ro_binds:
        args += ["--ro-bind", host, inside]
    if config.gpu:
        # A plain --bind after --dev gives "NVML Insufficient Permissions"; CUDA also reads /sys.
        for device in config.gpu_devices:
            args += ["--dev-bind", device, device]
        args += ["--ro-bind", "/sys", "/sys"]
    args += [
        "--remount-ro",
        "/",
        "--unshare-all",
        "--hostname",
        SANDBOX_HOSTNAME,
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--chdir",
        JOB_MOUNT,
        "--clearenv",
    ]
    for key, value in sandbox_env(config, home=JOB_MOUNT, python=config.python).items():
        args += ["--setenv", key, value]
    return args


def sandbox_env(config: SandboxConfig, *, home: str, python: str) -> dict[str, str]:
    """The whole environment of sandboxed code: an allow-list, never the worker's own variables."""
    threads = str(config.threads)
    env = {
        "PATH": f"{os.path.dirname(python)}:/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "LANG": "C.UTF-8",
        "TMPDIR": "/tmp" if home == JOB_MOUNT else tempfile.gettempdir(),
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        # There is no network: fail at once instead of waiting for Hugging Face Hub timeouts.
        "HF_HUB_OFFLINE": "1",
    }
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
    return env


def translate_argv(argv: Sequence[str], ro_binds: Sequence[tuple[str, str]]) -> list[str]:
    """Rewrite host paths in argv to where they are mounted inside the sandbox."""
    out = []
    for arg in argv:
        for host, inside in ro_binds:
            if arg == host or arg.startswith(host.rstrip("/") + "/"):
                arg = inside + arg[len(host.rstrip("/")) :]
                break
        out.append(arg)
    return out


def _runtime_dirs(config: SandboxConfig) -> list[str]:
    """The Python environment the harness runs in, plus configured extras, bound read-only."""
    dirs: list[str] = []
    venv = Path(config.python).parent.parent
    if (venv / "pyvenv.cfg").exists():
        dirs.append(str(venv))
    real_prefix = Path(os.path.realpath(config.python)).parent.parent
    if not str(real_prefix).startswith("/usr") and str(real_prefix) not in dirs:
        dirs.append(str(real_prefix))
    dirs += [p for p in config.extra_ro_binds if p not in dirs and os.path.exists(p)]
    return [d for d in dirs if d != "/usr" and not d.startswith("/usr/")]


@contextlib.contextmanager
def _passwd_files(config: SandboxConfig) -> Iterator[list[tuple[int, str]]]:
    """Tiny /etc/passwd, /etc/group and /etc/hosts for the sandbox, so getpwuid() and "localhost"
    work without exposing the host's account list."""
    uid = config.uid if config.uid is not None else os.getuid()
    gid = config.gid if config.gid is not None else os.getgid()
    files = {
        "/etc/passwd": f"sandbox:x:{uid}:{gid}:sandbox:{JOB_MOUNT}:/usr/sbin/nologin\n",
        "/etc/group": f"sandbox:x:{gid}:\n",
        "/etc/hosts": f"127.0.0.1 localhost {SANDBOX_HOSTNAME}\n::1 localhost\n",
    }
    fds: list[tuple[int, str]] = []
    try:
        for dest, text in files.items():
            fd = os.memfd_create("layerwise-" + dest.rsplit("/", 1)[1], 0)
            os.write(fd, text.encode())
            os.lseek(fd, 0, os.SEEK_SET)
            fds.append((fd, dest))
        yield fds
    finally:
        for fd, _ in fds:
            os.close(fd)


# --- supervision ---------------------------------------------------------------------------------


def _supervise(
    command: list[str],
    *,
    cwd: Path | None,
    env: dict[str, str],
    pass_fds: tuple[int, ...],
    limits: Limits,
    config: SandboxConfig,
    sandboxed: bool,
    on_poll: PollHook | None,
) -> SandboxResult:
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
    watch = _Watch(proc, limits, deadline=started + limits.wall_s, on_poll=on_poll)
    try:
        watch.loop()
    finally:
        _kill_group(proc)
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    wall = time.monotonic() - started
    stdout = watch.buffers["stdout"].decode("utf-8", "replace")
    stderr = watch.buffers["stderr"].decode("utf-8", "replace")
    started_cmd = True
    if sandboxed:
        started_cmd, stderr = _strip_marker(stderr)
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
    ):
        self.proc = proc
        self.deadline = deadline
        self.on_poll = on_poll
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


class _TreeSampler:
    """CPU time and peak RSS of a process tree, read from /proc (wait4 on bwrap sees only bwrap)."""

    def __init__(self, root_pid: int) -> None:
        self.root = root_pid
        self.cpu_s: float | None = None
        self.peak_rss_mb: float | None = None
        self._ticks = os.sysconf("SC_CLK_TCK")

    def sample(self) -> None:
        try:
            stats = _read_proc_stats()
        except OSError:
            return
        tree = _descendants(self.root, stats)
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


def _strip_marker(stderr: str) -> tuple[bool, str]:
    marker = START_MARKER + "\n"
    index = stderr.find(marker)
    if index < 0:
        return False, stderr
    return True, stderr[:index] + stderr[index + len(marker) :]


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
) -> tuple[str, int | None, int | None, str]:
    """(status, exit code, signal, message) for a finished command.

    Honest about ambiguity: bwrap reports a command killed by signal N as exit status 128+N, so a
    program that itself exits with 137 reads as SIGKILL. Memory exhaustion is recognised from the
    error text (MemoryError, CUDA/torch out-of-memory, bad_alloc) under the address-space cap, or
    a SIGKILL near the cap; a kernel OOM kill without a cap reads as `killed`.
    """
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
    repo_env = Path(__file__).resolve().parents[2] / ".venv-runner" / "bin" / "python"
    if repo_env.exists():
        return str(repo_env)
    return sys.executable
