"""The per-job disk quota: how much the sandboxed steps may write, and how many files they may make.

Everything a sandboxed step can write lives in one folder per job, ``<job>/steps`` (each step's
``/job`` is a folder in it), plus the step's own ``/tmp`` and ``/dev/shm``, which bwrap makes as
tmpfs with a byte cap (`Limits.tmp_mb`) but no file-count cap (bwrap cannot set ``nr_inodes``).

Two ways to hold the job folder to `SandboxConfig.disk_mb` bytes and `SandboxConfig.max_files`
files (docs/runner.md, "The sandbox", "Disk quota"):

* ``mount`` (the runner has CAP_SYS_ADMIN, e.g. it is root): a tmpfs with ``size=`` and
  ``nr_inodes=`` is mounted on the folder for the job's life, so the kernel refuses writes past a
  hard cap a little above the quota (`SLACK_BYTES`, `SLACK_FILES`, room for our own input files);
  the supervisor reads the usage with statvfs, which costs nothing, and ends the step once it is
  past the quota itself.
* ``poll`` (no capability, e.g. a runner in an unprivileged container): nothing is mounted; the
  supervisor walks the folder every sample and kills the step once it is past either limit. A
  fast writer can overshoot by what it writes in one interval (each file is still capped by
  RLIMIT_FSIZE).

In both modes the supervisor also counts the files in the sandbox's own /tmp and /dev/shm (through
/proc/<pid>/root), because a million empty files in a tmpfs costs kernel memory and no bytes.

`job_folder` mounts (or not) and always unmounts; `sweep` unmounts what a killed runner left.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import re
import shutil
import stat
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

MODE_AUTO = "auto"
MODE_MOUNT = "mount"
MODE_POLL = "poll"

# Above the quota, for what the runner itself writes there (each step's input.json, its folders).
SLACK_BYTES = 4 << 20
SLACK_FILES = 256
STEPS_NAME = "steps"
MAX_DEPTH = 64  # folders nested deeper than this are past the quota (the count holds one fd per level)
MOUNT_OPTIONS_MODE = "0711"  # the sandbox user traverses it to its own step folder, never lists it

_MS_NOSUID = 0x2
_MS_NODEV = 0x4
_MNT_DETACH = 0x2
_JOB_NAME = re.compile(r"^attempt-[^/]*-p(?P<pid>\d+)-[^/]*$")


class QuotaExceeded(Exception):
    """A step went past the disk quota; str() is the learner-facing message."""


@dataclass(frozen=True)
class Usage:
    bytes: int
    files: int
    too_deep: bool = False


def figure_mib(n_bytes: int) -> str:
    mib = n_bytes / (1 << 20)
    return f"{mib:,.0f} MiB" if mib >= 10 or mib == int(mib) else f"{mib:,.1f} MiB"


def exceeded_message(where: str, usage: Usage, disk_bytes: int | None, max_files: int) -> str | None:
    """The learner-facing reason when `usage` is past a limit, else None."""
    if disk_bytes is not None and usage.bytes > disk_bytes:
        return f"wrote more than {figure_mib(disk_bytes)} to {where}"
    if usage.files > max_files:
        return f"created more than {max_files:,} files in {where}"
    if usage.too_deep:
        return f"nested folders more than {MAX_DEPTH} deep in {where}"
    return None


# --- the job folder --------------------------------------------------------------------------------


class JobFolder:
    """``<job>/steps``: where the steps' folders go, on its own tmpfs (mode "mount") or not ("poll")."""

    def __init__(self, path: Path, *, mode: str, disk_bytes: int, max_files: int) -> None:
        self.path = path
        self.mode = mode
        self.disk_bytes = disk_bytes
        self.max_files = max_files

    def usage(self) -> Usage:
        if self.mode == MODE_MOUNT:
            st = os.statvfs(self.path)
            # The root folder is one inode; it is not the learner's.
            return Usage((st.f_blocks - st.f_bfree) * st.f_frsize, max(0, st.f_files - st.f_ffree - 1))
        return count_tree(self.path, stop_files=self.max_files + 1, stop_bytes=self.disk_bytes + 1)

    def exceeded(self) -> str | None:
        try:
            usage = self.usage()
        except OSError as exc:
            log.warning("could not measure the job folder %s: %s", self.path, exc)
            return None
        return exceeded_message("the job folder", usage, self.disk_bytes, self.max_files)


_active: dict[Path, JobFolder] = {}
_active_lock = threading.Lock()


def folder_for(work_dir: Path) -> JobFolder | None:
    """The active job folder that holds `work_dir`, if any."""
    resolved = Path(os.path.realpath(work_dir))
    with _active_lock:
        for path, folder in _active.items():
            if resolved == path or resolved.is_relative_to(path):
                return folder
    return None


@contextlib.contextmanager
def job_folder(job_dir: Path, *, mode: str, disk_mb: int, max_files: int) -> Iterator[JobFolder]:
    """Make ``job_dir/steps`` the quota'd folder for the block, and leave nothing mounted after it,
    whatever happens inside."""
    path = Path(os.path.realpath(job_dir)) / STEPS_NAME
    path.mkdir(mode=0o711, exist_ok=True)
    disk_bytes = disk_mb << 20
    chosen = MODE_POLL
    # Mounted and registered under the lock, so that a sweep in another thread never takes this
    # folder for a stale one.
    with _active_lock:
        if mode in (MODE_AUTO, MODE_MOUNT):
            try:
                mount_tmpfs(path, size=disk_bytes + SLACK_BYTES, nr_inodes=max_files + SLACK_FILES)
                chosen = MODE_MOUNT
            except OSError as exc:
                if mode == MODE_MOUNT:
                    raise
                _note_no_mount(exc)
        folder = JobFolder(path, mode=chosen, disk_bytes=disk_bytes, max_files=max_files)
        _active[path] = folder
    try:
        yield folder
    finally:
        with _active_lock:
            _active.pop(path, None)
        if chosen == MODE_MOUNT:
            unmount(path)


_warned_no_mount = False


def _note_no_mount(exc: OSError) -> None:
    global _warned_no_mount
    if not _warned_no_mount:
        _warned_no_mount = True
        log.warning("cannot mount a tmpfs for the job folder (%s); the disk quota is enforced by polling instead", exc)


# --- mounting --------------------------------------------------------------------------------------


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def mount_tmpfs(path: Path, *, size: int, nr_inodes: int) -> None:
    options = f"size={size},nr_inodes={nr_inodes},mode={MOUNT_OPTIONS_MODE}"
    libc = _libc()
    if libc.mount(b"tmpfs", os.fsencode(path), b"tmpfs", _MS_NOSUID | _MS_NODEV, options.encode()) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount tmpfs on {path}: {os.strerror(err)}")


def unmount(path: Path) -> None:
    """Unmount `path`; a busy mount is detached (lazily unmounted) rather than left behind."""
    libc = _libc()
    raw = os.fsencode(path)
    if libc.umount2(raw, 0) == 0:
        return
    err = ctypes.get_errno()
    if err == errno.EINVAL:  # not a mount point (any more)
        return
    if libc.umount2(raw, _MNT_DETACH) != 0:
        err = ctypes.get_errno()
        log.error("could not unmount %s: %s", path, os.strerror(err))


def mounts_under(root: Path) -> list[Path]:
    """Mount points strictly under `root`, from /proc/self/mountinfo, deepest first."""
    base = os.path.realpath(root)
    found = []
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
            for line in f:
                fields = line.split()
                if len(fields) < 5:
                    continue
                point = _unescape(fields[4])
                if point.startswith(base.rstrip("/") + "/"):
                    found.append(Path(point))
    except OSError:
        return []
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def _unescape(text: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def sweep(root: Path) -> list[Path]:
    """Unmount and remove the job folders under `root` that a runner process left behind when it
    died (its pid, in the folder's name, is gone), or that this process no longer uses. Returns
    the job folders removed."""
    removed = []
    with _active_lock:
        for point in mounts_under(root):
            job_dir = point.parent
            match = _JOB_NAME.match(job_dir.name)
            if point.name != STEPS_NAME or match is None or point in _active:
                continue
            pid = int(match["pid"])
            if pid != os.getpid() and _alive(pid):
                continue
            unmount(point)
            shutil.rmtree(job_dir, ignore_errors=True)
            removed.append(job_dir)
    if removed:
        log.warning("removed %d stale job folder(s) left mounted under %s", len(removed), root)
    return removed


def _alive(pid: int) -> bool:
    """Whether `pid` still runs; a zombie (a killed worker nobody has reaped yet) does not."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return raw[raw.rfind(b")") + 2 : raw.rfind(b")") + 3] not in (b"Z", b"X")


# --- counting --------------------------------------------------------------------------------------


def count_tree(path: Path | str, *, stop_files: int, stop_bytes: int | None = None) -> Usage:
    """Bytes allocated (st_blocks, each inode once) and entries under `path`, never following a
    link, even one swapped in while we walk (every folder is opened O_NOFOLLOW relative to its
    parent). Stops early once `stop_files` entries or `stop_bytes` bytes are seen. Only the
    folders on the current path are held open; folders nested past MAX_DEPTH are not entered and
    set `too_deep`."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    counter = _Counter(stop_files, stop_bytes, flags)
    top = os.open(path, flags)
    try:
        counter.walk(top, 0)
    finally:
        os.close(top)
    return Usage(counter.bytes, counter.files, counter.too_deep)


class _Counter:
    def __init__(self, stop_files: int, stop_bytes: int | None, flags: int) -> None:
        self.stop_files, self.stop_bytes, self.flags = stop_files, stop_bytes, flags
        self.bytes = self.files = 0
        self.too_deep = False
        self.seen: set[int] = set()

    def done(self) -> bool:
        return self.files >= self.stop_files or (self.stop_bytes is not None and self.bytes >= self.stop_bytes)

    def walk(self, fd: int, depth: int) -> None:
        folders = []
        try:
            with os.scandir(fd) as entries:
                for entry in entries:
                    self.files += 1
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if info.st_ino not in self.seen:
                        self.seen.add(info.st_ino)
                        self.bytes += info.st_blocks * 512
                    if self.done():
                        return
                    if stat.S_ISDIR(info.st_mode):
                        folders.append(entry.name)
        except OSError:
            return
        for name in folders:
            if depth + 1 >= MAX_DEPTH:
                self.too_deep = True
                return
            try:
                child = os.open(name, self.flags, dir_fd=fd)
            except OSError:
                continue
            try:
                self.walk(child, depth + 1)
            finally:
                os.close(child)
            if self.done():
                return


def sandbox_tmp_exceeded(pids: list[int], *, skip: int, inside: str, max_files: int) -> str | None:
    """The reason when the sandbox's /tmp or /dev/shm holds more than `max_files` entries, seen
    through /proc/<pid>/root of a process inside it (one with `inside` in its root)."""
    for pid in pids:
        if pid == skip:
            continue
        root = f"/proc/{pid}/root"
        try:
            if not os.path.isdir(root + inside):
                continue
        except OSError:
            continue
        for where in ("/tmp", "/dev/shm"):
            try:
                usage = count_tree(root + where, stop_files=max_files + 1)
            except OSError:
                continue
            message = exceeded_message(where, usage, None, max_files)
            if message:
                return message
        return None
    return None
