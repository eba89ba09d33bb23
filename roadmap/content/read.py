"""Reading: the content folder as plain data, each piece with the file and entry it came from.

A roadmap is a folder holding roadmap.yaml and layers/*.yaml. Reading checks only that the
files parse and hold mappings; what the fields mean is validate.py's business.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from roadmap.content.errors import ContentError


@dataclass(frozen=True)
class Entry:
    """A piece of content and where it stands: its file, and its place in a list there.

    `name` is how errors point at it, for example "topics[3] (slug 'kv-cache')"; it is empty
    for a whole file (roadmap.yaml, or one layer's file).
    """

    file: str
    data: Any
    name: str = ""


def entry_name(kind: str, index: int, item: Any, key: str = "slug") -> str:
    name = item.get(key) if isinstance(item, dict) else None
    return f"{kind}[{index}]" + (f" ({key} {name!r})" if name is not None else "")


@dataclass
class RoadmapSource:
    directory: Path
    file: str
    data: dict[str, Any]
    layers: list[Entry] = field(default_factory=list)
    digest: str = ""

    @property
    def slug(self) -> str:
        return str(self.data.get("slug", ""))

    def entries(self, kind: str, key: str = "slug") -> list[Entry]:
        """The items of one of roadmap.yaml's lists (competency_levels, artifacts...)."""
        return [
            Entry(self.file, item, entry_name(kind, i, item, key)) for i, item in enumerate(self.data.get(kind) or [])
        ]

    def topic_entries(self) -> list[Entry]:
        """The items of every layer's topics list, mappings or not, in file order."""
        return [topic for layer in self.layers for topic in layer_topic_entries(layer)]

    def topics(self) -> Iterator[tuple[Entry, int, dict[str, Any]]]:
        """(layer, position in the layer, topic) for every topic that is a mapping, in file order."""
        for layer in self.layers:
            for i, topic in enumerate(layer.data.get("topics") or []):
                if isinstance(topic, dict):
                    yield layer, i, topic


def layer_topic_entries(layer: Entry) -> list[Entry]:
    return [
        Entry(layer.file, item, entry_name("topics", i, item)) for i, item in enumerate(layer.data.get("topics") or [])
    ]


def display_path(path: Path) -> str:
    """A path as people type it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def read_sources(content_dir: Path) -> tuple[list[RoadmapSource], list[ContentError]]:
    """Every roadmap folder under content_dir, and the errors met reading the files."""
    if not content_dir.is_dir():
        return [], [ContentError(display_path(content_dir), "", "content folder not found")]
    errors: list[ContentError] = []
    sources = []
    for directory in sorted(p for p in content_dir.iterdir() if p.is_dir()):
        source = read_roadmap(directory, errors)
        if source is not None:
            sources.append(source)
    return sources, errors


def read_roadmap(directory: Path, errors: list[ContentError]) -> RoadmapSource | None:
    """One roadmap folder; None when it has no roadmap.yaml. Problems go to `errors`."""
    roadmap_file = directory / "roadmap.yaml"
    rel = display_path(roadmap_file)
    if not roadmap_file.exists():
        errors.append(ContentError(rel, "", "missing: every roadmap folder needs a roadmap.yaml"))
        return None
    layer_files = sorted((directory / "layers").glob("*.yaml"))
    digest = content_digest(directory, [roadmap_file, *layer_files])
    data = _read_yaml(roadmap_file, errors)
    source = RoadmapSource(directory, rel, data if isinstance(data, dict) else {}, digest=digest)
    if data is not None and not isinstance(data, dict):
        errors.append(ContentError(rel, "", "must be a mapping of fields"))
    for path in layer_files:
        layer = _read_mapping(path, errors)
        if layer is not None:
            source.layers.append(layer)
    return source


def content_digest(directory: Path, files: list[Path]) -> str:
    """SHA-256 over the files' names and bytes: it changes exactly when the content does."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(directory)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _read_mapping(path: Path, errors: list[ContentError]) -> Entry | None:
    data = _read_yaml(path, errors)
    if data is None:
        return None
    rel = display_path(path)
    if not isinstance(data, dict):
        errors.append(ContentError(rel, "", "must be a mapping of fields"))
        return None
    return Entry(rel, data)


def _read_yaml(path: Path, errors: list[ContentError]) -> Any:
    rel = display_path(path)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        errors.append(ContentError(rel, where, f"is not valid YAML: {exc}"))
        return None
