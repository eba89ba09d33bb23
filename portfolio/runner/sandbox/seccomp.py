"""The seccomp filter every sandboxed command runs under: system calls a grader never needs fail
with EPERM (the submission sees "Operation not permitted"; nothing is killed, so the verdict is the
program's own reaction to the refusal).

Built by trusted runner code with libseccomp (`seccomp_export_bpf`, through ctypes) and handed to
bwrap as `--seccomp FD`. The filter allows the native architecture only: a call through another
system call table (32-bit `int 0x80`) meets libseccomp's bad-architecture action, which kills the
thread, so the list cannot be sidestepped through a second table. Where libseccomp cannot be loaded the sandbox is unavailable, unless
`RUNNER_ALLOW_NO_SECCOMP=1` says to run without the filter (development only; see launch.probe).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os

# What a grader never needs and what widens the kernel's attack surface: debugging other
# processes, mounts and namespaces, kernel keyrings, eBPF and perf, loading kernels and modules,
# swap and reboot, file handles, userfaultfd (a classic exploit aid), cross-process memory access,
# the new mount API, io_uring, and clock/accounting/quota calls.
DENIED_SYSCALLS: tuple[str, ...] = (
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "unshare",
    "setns",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "perf_event_open",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "swapon",
    "swapoff",
    "reboot",
    "open_by_handle_at",
    "name_to_handle_at",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "acct",
    "quotactl",
    "syslog",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "iopl",
    "ioperm",
    "lookup_dcookie",
    "uselib",
    "vhangup",
)

_SCMP_ACT_ALLOW = 0x7FFF0000
_SCMP_ACT_ERRNO = 0x00050000


class SeccompUnavailable(RuntimeError):
    """libseccomp cannot be loaded or refused to build the filter."""


@functools.cache
def filter_program() -> bytes:
    """The compiled BPF program (cached: it depends only on the list above and the architecture)."""
    lib = _load()
    ctx = lib.seccomp_init(_SCMP_ACT_ALLOW)
    if not ctx:
        raise SeccompUnavailable("seccomp_init failed")
    try:
        deny = _SCMP_ACT_ERRNO | errno.EPERM
        for name in DENIED_SYSCALLS:
            number = lib.seccomp_syscall_resolve_name(name.encode())
            if number < 0:
                # Not a system call on this architecture (libseccomp's __NR_SCMP_ERROR or a
                # pseudo-number): nothing to deny.
                continue
            rc = lib.seccomp_rule_add(ctx, deny, number, 0)
            if rc < 0:
                raise SeccompUnavailable(f"seccomp_rule_add({name}) failed: {os.strerror(-rc)}")
        fd = os.memfd_create("layerwise-seccomp", 0)
        try:
            rc = lib.seccomp_export_bpf(ctx, fd)
            if rc < 0:
                raise SeccompUnavailable(f"seccomp_export_bpf failed: {os.strerror(-rc)}")
            os.lseek(fd, 0, os.SEEK_SET)
            chunks = []
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)
    finally:
        lib.seccomp_release(ctx)


def available() -> str | None:
    """None when the filter can be built here, else why not."""
    try:
        filter_program()
    except SeccompUnavailable as exc:
        return str(exc)
    return None


def _load() -> ctypes.CDLL:
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError as exc:
        raise SeccompUnavailable(f"libseccomp could not be loaded ({exc}); install libseccomp2") from None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.restype = None
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.restype = ctypes.c_int
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add.restype = ctypes.c_int
    lib.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint]
    lib.seccomp_export_bpf.restype = ctypes.c_int
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return lib
