"""The sandboxed command line: prlimit, then bwrap with its mounts and environment, then a trampoline.

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
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from portfolio.runner.protocol import Limits
from portfolio.runner.sandbox.config import SandboxConfig

JOB_MOUNT = "/job"
CODE_MOUNT = "/opt/layerwise"
SANDBOX_HOSTNAME = "sandbox"
START_MARKER = "layerwise-sandbox: command started"
NOFILE_LIMIT = 1024
_SHELL = "/usr/bin/sh"
_TRAMPOLINE = f'echo "{START_MARKER}" >&2; exec "$@"'


@contextlib.contextmanager
def sandboxed_command(
    argv: Sequence[str],
    *,
    work_dir: Path,
    limits: Limits,
    config: SandboxConfig,
    ro_binds: Sequence[tuple[str, str]] = (),
) -> Iterator[tuple[list[str], tuple[int, ...]]]:
    """(the whole command line, the file descriptors it must inherit); the descriptors stay open
    until the block ends, so start and wait for the command inside it."""
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
        yield command, tuple(fd for fd, _ in data_fds)


def strip_marker(stderr: str) -> tuple[bool, str]:
    """(whether the trampoline ran, stderr without its marker line)."""
    marker = START_MARKER + "\n"
    index = stderr.find(marker)
    if index < 0:
        return False, stderr
    return True, stderr[:index] + stderr[index + len(marker) :]


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
    if os.path.isdir("/usr/local"):
        # What the host installed by hand (other Pythons, toolkits, tools) is none of a grader's
        # business: /usr/local is an empty, read-only folder inside, except the interpreter's own
        # prefix when it lives there and the configured extras (_runtime_dirs, bound below).
        args += ["--perms", "0555", "--size", "4096", "--tmpfs", "/usr/local"]
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
        # No namespaces of its own inside: `unshare` and nested sandboxes fail (ENOSPC), which
        # closes the kernel's user-namespace attack surface to the submission.
        "--unshare-user",
        "--disable-userns",
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
    # /usr itself is bound whole; of /usr/local (hidden) only what the interpreter needs comes back.
    return [d for d in dirs if d.startswith("/usr/local/") or (d != "/usr" and not d.startswith("/usr/"))]


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
