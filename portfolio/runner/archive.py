"""Checking and unpacking uploaded submissions: a single file or a zip.

Standard library only: the Django upload form calls `inspect_upload` to refuse a bad upload with
a message the learner can act on, and the runner calls `extract_to` again before anything runs,
because the runner trusts nothing it receives.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

DEFAULT_MAX_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_FILES = 200
DEFAULT_MAX_TOTAL_UNCOMPRESSED = 64 * 1024 * 1024
DEFAULT_MAX_RATIO = 100.0
# A small file of repeated bytes compresses far beyond any sane ratio; only larger entries can
# be a bomb, and the total cap bounds the rest.
RATIO_CHECK_MIN_BYTES = 1024 * 1024
MAX_NAME_CHARS = 255
MAX_PATH_CHARS = 1024
ALLOWED_COMPRESSION = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
_CHUNK = 64 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")
_UNIX_SYSTEM = 3


class UnsafeArchive(ValueError):
    """An upload refused for safety. `filename` is the upload, `entry` the zip member (or None)."""

    def __init__(self, filename: str, message: str, *, entry: str | None = None) -> None:
        where = f"{filename}: {entry}" if entry is not None else filename
        super().__init__(f"{where}: {message}")
        self.filename = filename
        self.entry = entry
        self.message = message


@dataclass(frozen=True)
class UploadEntry:
    path: str
    size: int


@dataclass(frozen=True)
class UploadInfo:
    kind: str  # "file" or "zip"
    filename: str
    sha256: str
    size: int
    files: tuple[UploadEntry, ...]

    @property
    def total_uncompressed(self) -> int:
        return sum(entry.size for entry in self.files)


def content_sha256(data: bytes) -> str:
    """SHA-256 of the exact uploaded bytes: the identity of an ArtifactVersion."""
    return hashlib.sha256(data).hexdigest()


def inspect_upload(
    filename: str,
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_files: int = DEFAULT_MAX_FILES,
    max_total_uncompressed: int = DEFAULT_MAX_TOTAL_UNCOMPRESSED,
    max_ratio: float = DEFAULT_MAX_RATIO,
) -> UploadInfo:
    """Describe an upload or raise UnsafeArchive. A zip is fully decompressed (in bounded chunks)
    so sizes are measured, not taken from its headers."""
    _check_upload_name(filename)
    if len(data) > max_bytes:
        raise UnsafeArchive(filename, f"is {len(data)} bytes; the limit is {max_bytes} bytes")
    if not _looks_like_zip_name(filename):
        entry = UploadEntry(path=filename, size=len(data))
        return UploadInfo("file", filename, content_sha256(data), len(data), (entry,))
    members = _open_zip_members(filename, data, max_files=max_files)
    declared_total = sum(info.file_size for info in members if not info.is_dir())
    if declared_total > max_total_uncompressed:
        raise UnsafeArchive(
            filename,
            f"unpacks to {declared_total} bytes (declared); the limit is {max_total_uncompressed} bytes",
        )
    if len(data) and declared_total / len(data) > max_ratio and declared_total > RATIO_CHECK_MIN_BYTES:
        raise UnsafeArchive(
            filename,
            f"compression ratio {declared_total / len(data):.0f}:1 exceeds {max_ratio:.0f}:1",
        )
    entries = _measure_members(filename, data, members, max_total_uncompressed, max_ratio)
    actual_total = sum(entry.size for entry in entries)
    if actual_total > RATIO_CHECK_MIN_BYTES and actual_total / max(len(data), 1) > max_ratio:
        raise UnsafeArchive(
            filename,
            f"compression ratio {actual_total / len(data):.0f}:1 exceeds {max_ratio:.0f}:1",
        )
    return UploadInfo("zip", filename, content_sha256(data), len(data), entries)


def extract_to(
    dest: str | os.PathLike[str],
    filename: str,
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_files: int = DEFAULT_MAX_FILES,
    max_total_uncompressed: int = DEFAULT_MAX_TOTAL_UNCOMPRESSED,
    max_ratio: float = DEFAULT_MAX_RATIO,
) -> UploadInfo:
    """Write an upload under `dest` (created if missing, must be empty) and return its description.

    Every write re-checks the limits while streaming, and files are created with O_EXCL and
    O_NOFOLLOW inside directories this function made, so nothing lands outside `dest`.
    """
    info = inspect_upload(
        filename,
        data,
        max_bytes=max_bytes,
        max_files=max_files,
        max_total_uncompressed=max_total_uncompressed,
        max_ratio=max_ratio,
    )
    root = Path(dest)
    root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()):
        raise FileExistsError(f"{root}: extraction folder must be empty")
    root = root.resolve()
    if info.kind == "file":
        _write_stream(root, filename, filename, io.BytesIO(data), limit=len(data))
        return info
    budget = max_total_uncompressed
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for member in archive.infolist():
            if member.is_dir():
                _make_dirs(root, member.filename.rstrip("/"), filename)
                continue
            parent = member.filename.rpartition("/")[0]
            if parent:
                _make_dirs(root, parent, filename)
            with archive.open(member) as source:
                written = _write_stream(
                    root,
                    member.filename,
                    filename,
                    source,
                    limit=min(member.file_size, budget),
                )
            budget -= written
    return info


def _check_upload_name(filename: str) -> None:
    if not isinstance(filename, str) or not filename or filename in {".", ".."}:
        raise UnsafeArchive(str(filename), "the file name is empty or not a file name")
    if "/" in filename or "\\" in filename or _DRIVE.match(filename):
        raise UnsafeArchive(filename, "the file name must not contain a folder or drive")
    if any(ord(c) < 32 for c in filename) or len(filename) > MAX_NAME_CHARS:
        raise UnsafeArchive(filename, "the file name has control characters or is too long")


def _looks_like_zip_name(filename: str) -> bool:
    return filename.lower().endswith(".zip")


def _open_zip_members(filename: str, data: bytes, *, max_files: int) -> list[zipfile.ZipInfo]:
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise UnsafeArchive(
            filename,
            "has a .zip name but is not a zip archive; upload a real zip or rename the file",
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,
        ValueError,
        EOFError,
    ) as exc:
        raise UnsafeArchive(filename, f"is a damaged zip archive ({exc})") from None
    if len(members) > max_files:
        raise UnsafeArchive(filename, f"has {len(members)} entries; the limit is {max_files}")
    if not any(not m.is_dir() for m in members):
        raise UnsafeArchive(filename, "contains no files")
    seen: dict[str, str] = {}
    for member in members:
        _check_member(filename, member)
        path = member.filename.rstrip("/")
        key = path.casefold()
        if key in seen:
            raise UnsafeArchive(
                filename,
                f"appears twice (also as {seen[key]!r})",
                entry=member.filename,
            )
        seen[key] = member.filename
    _check_file_dir_conflicts(filename, members)
    return members


def _check_member(filename: str, member: zipfile.ZipInfo) -> None:
    name = member.filename
    entry = name
    if not name or "\x00" in name or any(ord(c) < 32 for c in name):
        raise UnsafeArchive(filename, "has an empty name or control characters", entry=entry)
    if "\\" in name:
        raise UnsafeArchive(filename, "uses a backslash in its path; zip paths use '/'", entry=entry)
    if name.startswith("/") or _DRIVE.match(name):
        raise UnsafeArchive(filename, "has an absolute path", entry=entry)
    parts = name.rstrip("/").split("/")
    if any(part in {"", ".", ".."} for part in parts):
        raise UnsafeArchive(filename, "has an empty, '.' or '..' path component", entry=entry)
    if len(name) > MAX_PATH_CHARS or any(len(part) > MAX_NAME_CHARS for part in parts):
        raise UnsafeArchive(filename, "has a path that is too long", entry=entry)
    if member.flag_bits & 0x1:
        raise UnsafeArchive(filename, "is encrypted; upload it without a password", entry=entry)
    if member.compress_type not in ALLOWED_COMPRESSION:
        raise UnsafeArchive(
            filename,
            f"uses compression method {member.compress_type}; only stored or deflated",
            entry=entry,
        )
    # Unix permission bits without a file type (Python's zipfile writes 0o600) mean "unknown
    # type", which the name decides; a type that is set must be a regular file or a folder.
    file_type = stat.S_IFMT(member.external_attr >> 16) if member.create_system == _UNIX_SYSTEM else 0
    if file_type == stat.S_IFLNK:
        raise UnsafeArchive(filename, "is a symbolic link; links are not allowed", entry=entry)
    if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise UnsafeArchive(filename, "is a special file (device, pipe or socket)", entry=entry)
    if file_type and (file_type == stat.S_IFDIR) != member.is_dir():
        raise UnsafeArchive(filename, "says it is a folder and a file at once", entry=entry)


def _check_file_dir_conflicts(filename: str, members: list[zipfile.ZipInfo]) -> None:
    files = {m.filename.casefold(): m.filename for m in members if not m.is_dir()}
    for member in members:
        parts = member.filename.rstrip("/").split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth]).casefold()
            if parent in files:
                raise UnsafeArchive(
                    filename,
                    f"is inside {files[parent]!r}, which is a file",
                    entry=member.filename,
                )


def _measure_members(
    filename: str,
    data: bytes,
    members: list[zipfile.ZipInfo],
    max_total: int,
    max_ratio: float,
) -> tuple[UploadEntry, ...]:
    entries: list[UploadEntry] = []
    total = 0
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in members:
                if member.is_dir():
                    continue
                size = _count_member_bytes(filename, archive, member, max_total - total)
                if size > RATIO_CHECK_MIN_BYTES and size / max(member.compress_size, 1) > max_ratio:
                    raise UnsafeArchive(
                        filename,
                        f"compression ratio {size / max(member.compress_size, 1):.0f}:1 exceeds {max_ratio:.0f}:1",
                        entry=member.filename,
                    )
                total += size
                entries.append(UploadEntry(path=member.filename, size=size))
    except UnsafeArchive:
        raise
    except (
        zipfile.BadZipFile,
        NotImplementedError,
        ValueError,
        EOFError,
        OSError,
    ) as exc:
        raise UnsafeArchive(filename, f"is a damaged zip archive ({exc})") from None
    return tuple(entries)


def _count_member_bytes(filename: str, archive: zipfile.ZipFile, member: zipfile.ZipInfo, budget: int) -> int:
    """Decompress one entry and count its real size; stop at the declared size or the budget."""
    count = 0
    try:
        with archive.open(member) as source:
            while chunk := source.read(_CHUNK):
                count += len(chunk)
                if count > member.file_size:
                    raise UnsafeArchive(
                        filename,
                        "unpacks to more bytes than its header says",
                        entry=member.filename,
                    )
                if count > budget:
                    raise UnsafeArchive(
                        filename,
                        "unpacking it exceeds the total size limit",
                        entry=member.filename,
                    )
    except zipfile.BadZipFile as exc:
        raise UnsafeArchive(filename, f"is damaged ({exc})", entry=member.filename) from None
    if count != member.file_size:
        raise UnsafeArchive(
            filename,
            f"unpacks to {count} bytes but its header says {member.file_size}",
            entry=member.filename,
        )
    return count


def _make_dirs(root: Path, relative: str, filename: str) -> None:
    current = root
    for part in relative.split("/"):
        current = current / part
        try:
            os.mkdir(current, 0o755)
        except FileExistsError:
            if current.is_symlink() or not current.is_dir():
                raise UnsafeArchive(filename, "would write through a non-folder", entry=relative) from None


def _write_stream(root: Path, relative: str, filename: str, source: IO[bytes], *, limit: int) -> int:
    target = root / relative
    if not _is_within(root, target):
        raise UnsafeArchive(filename, "would be written outside the extraction folder", entry=relative)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(target, flags, 0o644)
    written = 0
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if written > limit:
                raise UnsafeArchive(
                    filename,
                    "grew beyond its checked size while unpacking",
                    entry=relative,
                )
            out.write(chunk)
    return written


def _is_within(root: Path, target: Path) -> bool:
    parent = target.parent.resolve()
    return parent == root or parent.is_relative_to(root)
