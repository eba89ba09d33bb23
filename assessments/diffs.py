"""What changed in an artifact between the version a reviewer last decided on and the pinned one.

Both versions are read back from storage and checked again with the runner's own
`archive.inspect_upload` (with the upload caps) before any zip member is opened, so a diff never
unpacks more than an upload may hold. A single file counts as an archive of one file under its
own name. Text files (UTF-8, at most TEXT_LIMIT bytes) get a unified diff of at most DIFF_LINES
lines; anything else is compared by SHA-256 only.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.conf import settings

from portfolio.models import ArtifactVersion
from portfolio.runner import archive

if TYPE_CHECKING:
    from assessments.models import GateEvidence, Review

TEXT_LIMIT = 256 * 1024
DIFF_LINES = 400


@dataclass(frozen=True)
class Entry:
    sha256: str
    text: str | None  # None: binary, or too large to show


@dataclass
class FileChange:
    path: str
    change: str  # added | removed | changed
    old_sha256: str = ""
    new_sha256: str = ""
    diff: str = ""
    note: str = ""


@dataclass
class VersionDiff:
    title: str
    old_number: int
    new_number: int
    old_sha256: str
    new_sha256: str
    files: list[FileChange] = field(default_factory=list)
    unchanged: int = 0
    error: str = ""

    @property
    def same(self) -> bool:
        return self.old_sha256 == self.new_sha256


def _text(data: bytes) -> str | None:
    if len(data) > TEXT_LIMIT or b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def entries(version: ArtifactVersion) -> dict[str, Entry]:
    """{path: Entry} of a version's files (a link is one entry holding its URL)."""
    if version.is_link:
        return {"(link)": Entry(version.sha256, version.url + "\n")}
    data = version.read_bytes()
    info = archive.inspect_upload(
        version.original_filename,
        data,
        max_bytes=max(settings.ARTIFACT_MAX_BYTES, len(data)),
        max_files=settings.ARTIFACT_MAX_FILES,
        max_total_uncompressed=settings.ARTIFACT_MAX_UNCOMPRESSED_BYTES,
    )
    if info.kind == "file":
        return {version.original_filename: Entry(info.sha256, _text(data))}
    found: dict[str, Entry] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as zipped:
        for member in zipped.infolist():
            if member.is_dir():
                continue
            content = zipped.read(member)
            found[member.filename] = Entry(hashlib.sha256(content).hexdigest(), _text(content))
    return found


def _unified(path: str, old: str, new: str) -> tuple[str, str]:
    lines = list(
        difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True), f"before/{path}", f"after/{path}"
        )
    )
    if len(lines) > DIFF_LINES:
        return "".join(lines[:DIFF_LINES]), f"diff cut at {DIFF_LINES} of {len(lines)} lines"
    return "".join(lines), ""


def diff_versions(old: ArtifactVersion, new: ArtifactVersion) -> VersionDiff:
    result = VersionDiff(new.artifact.title, old.number, new.number, old.sha256, new.sha256)
    if result.same:
        return result
    try:
        before, after = entries(old), entries(new)
    except (archive.UnsafeArchive, OSError, zipfile.BadZipFile) as exc:
        result.error = f"Could not read the versions to compare them ({exc}); compare them by hash."
        return result
    for path in sorted(before.keys() | after.keys()):
        a, b = before.get(path), after.get(path)
        if a is None and b is not None:
            result.files.append(FileChange(path, "added", new_sha256=b.sha256))
        elif b is None and a is not None:
            result.files.append(FileChange(path, "removed", old_sha256=a.sha256))
        elif a is not None and b is not None and a.sha256 != b.sha256:
            change = FileChange(path, "changed", a.sha256, b.sha256)
            if a.text is not None and b.text is not None:
                change.diff, change.note = _unified(path, a.text, b.text)
            else:
                change.note = "binary or larger than 256 KiB: compared by hash only"
            result.files.append(change)
        else:
            result.unchanged += 1
    return result


@dataclass
class EvidenceChange:
    """One artifact, compared between the last decision and now."""

    title: str
    change: str  # new | dropped | same | changed
    old_number: int | None = None
    new_number: int | None = None
    diff: VersionDiff | None = None


def changes_since(review: Review, evidence: list[GateEvidence]) -> list[EvidenceChange]:
    """Per artifact: what the reviewer decided on last time against what is pinned now."""
    before = {e["artifact"]: e for e in review.evidence if e.get("version_id")}
    now = {e.artifact_id: e for e in evidence if e.version_id}
    old_versions = ArtifactVersion.objects.select_related("artifact").in_bulk(
        [e["version_id"] for e in before.values()]
    )
    changes = []
    for artifact_id, pinned in now.items():
        assert pinned.version is not None
        old = before.get(artifact_id)
        if old is None:
            changes.append(EvidenceChange(pinned.artifact.title, "new", new_number=pinned.version.number))
            continue
        previous = old_versions.get(old["version_id"])
        change = EvidenceChange(pinned.artifact.title, "same", old["version"], pinned.version.number)
        if old["sha256"] != pinned.sha256 and previous is not None:
            change.change = "changed"
            change.diff = diff_versions(previous, pinned.version)
        changes.append(change)
    for artifact_id, old in before.items():
        if artifact_id not in now:
            changes.append(EvidenceChange(old["title"], "dropped", old_number=old["version"]))
    return changes
