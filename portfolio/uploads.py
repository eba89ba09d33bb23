"""What a learner hands us for a new version, checked before anything is written.

`inspect_file` runs the runner's own `archive.inspect_upload` (the same checks the runner repeats
before it unpacks anything) with the caps from settings, and `inspect_link` accepts http(s) URLs
only. `check_runnable` refuses what a runnable spec's grader cannot read at all. All raise
UploadRefused with a sentence that names the file or the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import URLValidator

from portfolio.runner import archive, jsondoc


class UploadRefused(ValueError):
    """An upload we will not store. `message` is written for the person who uploaded it; `field`
    names what to fix ("file" or "link"), for the form and the API."""

    def __init__(self, message: str, *, field: str = "file") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Upload:
    kind: str  # "file", "zip" or "link"
    filename: str
    data: bytes | None
    size: int
    sha256: str
    url: str = ""
    files: int = 1
    names: tuple[str, ...] = ()  # the file's name, or the paths of a zip's files


def read_file_or_link(file: UploadedFile | None, link: str) -> Upload:
    """What a new version is made of, from the upload form or the API: a file or a link, not both,
    not neither, read and checked."""
    if file and link:
        raise UploadRefused("Choose a file or give a link, not both.")
    if file:
        return read_uploaded(file)
    if link:
        return inspect_link(link)
    raise UploadRefused("Choose a file or a zip to upload, or give a link.")


def read_uploaded(uploaded: UploadedFile) -> Upload:
    """Read a Django upload (form or API) without holding more than the cap in memory."""
    name = uploaded.name or ""
    limit = settings.ARTIFACT_MAX_BYTES
    if uploaded.size is not None and uploaded.size > limit:
        raise UploadRefused(f"{name}: is {uploaded.size} bytes; the limit is {limit} bytes. Upload a smaller file.")
    data = uploaded.read(limit + 1)
    if len(data) > limit:
        raise UploadRefused(f"{name}: is larger than the limit of {limit} bytes. Upload a smaller file.")
    return inspect_file(name, data)


def inspect_file(filename: str, data: bytes) -> Upload:
    if not data:
        raise UploadRefused(f"{filename or 'the file'}: is empty. Choose the file again.")
    try:
        info = archive.inspect_upload(
            filename,
            data,
            max_bytes=settings.ARTIFACT_MAX_BYTES,
            max_files=settings.ARTIFACT_MAX_FILES,
            max_total_uncompressed=settings.ARTIFACT_MAX_UNCOMPRESSED_BYTES,
        )
    except archive.UnsafeArchive as exc:
        raise UploadRefused(f"Refused {exc}.") from None
    return Upload(
        kind=info.kind,
        filename=info.filename,
        data=data,
        size=info.size,
        sha256=info.sha256,
        files=len(info.files),
        names=tuple(entry.path for entry in info.files),
    )


def limits_for(*, runnable: bool) -> dict[str, int]:
    """The upload limits a learner is told about: the site's for documents, and no more than the
    runner's (archive.DEFAULT_*) for a kind the runner grades."""
    limits = {
        "max_bytes": settings.ARTIFACT_MAX_BYTES,
        "max_files": settings.ARTIFACT_MAX_FILES,
        "max_unpacked": settings.ARTIFACT_MAX_UNCOMPRESSED_BYTES,
    }
    if runnable:
        runner = {
            "max_bytes": archive.DEFAULT_MAX_BYTES,
            "max_files": archive.DEFAULT_MAX_FILES,
            "max_unpacked": archive.DEFAULT_MAX_TOTAL_UNCOMPRESSED,
        }
        limits = {name: min(value, runner[name]) for name, value in limits.items()}
    return limits


# What the grader of each runnable kind reads (portfolio/runner/graders): the suffix it looks for,
# and what to upload instead. Anything else could only fail on the runner, after a wait.
RUNNABLE_FILES: dict[str, tuple[str | tuple[str, ...], str]] = {
    "kv_calculator": (".py", "a KV cache calculator is Python: upload kv_calculator.py, or a zip with it at its top"),
    "inference_benchmark": (
        (".json", ".py"),
        "an inference benchmark is your benchmark client (bench_client.py) or JSON (workload.json or "
        "results.json), or a zip with them",
    ),
    "tiny_transformer": (
        ".py",
        "a tiny transformer is Python: upload tiny_transformer.py, or a zip with it at its top",
    ),
    "quantizer": (
        ".py",
        "a quantizer is Python: upload quantizer.py, or a zip with quantizer.py and claims.json at its top",
    ),
}
# Kinds whose grader looks for files by name (portfolio/runner/quant/harness_learner.find_module
# and graders/quantizer.read_claims): the one file's name, and what a zip must hold side by side
# (at its top or inside its only folder).
RUNNABLE_NAMES: dict[str, tuple[str, tuple[str, ...]]] = {
    "quantizer": ("quantizer.py", ("quantizer.py", "claims.json")),
}


def check_runnable(kind: str, upload: Upload) -> None:
    """Refuse what the runner of a runnable kind would refuse, now, with the limit named: more than
    the runner's limits (portfolio/runner/archive.py, the one source of them; the runner applies
    the same function again), a file of the wrong type (an image or a program for a calculator: a
    single file needs the kind's suffix and must be UTF-8 text, a zip must hold at least one such
    file), and JSON the runner could not read (the one JSON reader, portfolio/runner/jsondoc.py)."""
    if upload.kind == "link":
        return
    try:
        archive.inspect_upload(upload.filename, upload.data or b"")
    except archive.UnsafeArchive as exc:
        raise UploadRefused(f"Refused {exc}; the runner takes no more than that.") from None
    if kind not in RUNNABLE_FILES:
        return
    suffixes, instead = RUNNABLE_FILES[kind]
    wanted = (suffixes,) if isinstance(suffixes, str) else suffixes
    single, together = RUNNABLE_NAMES.get(kind, ("", ()))
    if upload.kind == "zip":
        if not any(name.lower().endswith(wanted) for name in upload.names):
            raise UploadRefused(f"{upload.filename}: has no {' or '.join(wanted)} file; {instead}.")
        if together and not _side_by_side(upload.names, together):
            raise UploadRefused(f"{upload.filename}: has no {' and '.join(together)} side by side; {instead}.")
        return
    if not upload.filename.lower().endswith(wanted):
        raise UploadRefused(f"{upload.filename}: is not a {' or '.join(wanted)} file; {instead}.")
    suffix = next(end for end in wanted if upload.filename.lower().endswith(end))
    if single and upload.filename.rsplit("/", 1)[-1] != single:
        raise UploadRefused(f"{upload.filename}: is not named {single}; {instead}.")
    try:
        text = (upload.data or b"").decode("utf-8")
    except UnicodeDecodeError:
        raise UploadRefused(f"{upload.filename}: is not text (UTF-8); {instead}.") from None
    if suffix == ".json":
        try:
            jsondoc.loads(text, field=upload.filename, max_bytes=archive.DEFAULT_MAX_BYTES)
        except jsondoc.DocumentRefused as exc:
            raise UploadRefused(f"{exc}.") from None


def _side_by_side(names: tuple[str, ...], wanted: tuple[str, ...]) -> bool:
    """Whether a zip holds every one of `wanted` in one place the runner looks: its top, or its
    only top-level folder."""
    folders: dict[str, set[str]] = {}
    for name in names:
        folder, _, base = name.rpartition("/")
        folders.setdefault(folder, set()).add(base)
    tops = {name.split("/", 1)[0] for name in names if "/" in name and not name.startswith(("__MACOSX", "."))}
    places = [""] + (sorted(tops) if len(tops) == 1 else [])
    return any(set(wanted) <= folders.get(place, set()) for place in places)


def inspect_link(url: str) -> Upload:
    url = url.strip()
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        raise UploadRefused("Link: only http:// and https:// links can be stored.", field="link")
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise UploadRefused(f"Link: {url!r} is not a valid web address.", field="link") from None
    if len(url) > 2000:
        raise UploadRefused("Link: is longer than 2000 characters.", field="link")
    return Upload(
        kind="link",
        filename="",
        data=None,
        size=0,
        sha256=archive.content_sha256(url.encode()),
        url=url,
        files=0,
    )
