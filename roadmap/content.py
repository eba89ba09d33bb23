"""Load roadmap content from fixtures/roadmaps into the database.

Two passes. First every file is read and checked (fields, references, the
prerequisite DAG) and every problem is collected with the file and entry it is
in; if there is any, nothing is written. Then each roadmap is upserted by its
stable slugs inside one transaction: rows whose values already match are left
alone, so loading the same files twice writes nothing, and rows the files no
longer mention are retired rather than deleted, so learner data survives.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import networkx as nx
import yaml
from django.db import models, transaction
from django.utils import timezone

from roadmap.models import (
    ArtifactSpec,
    Checklist,
    CompetencyLevel,
    EvaluationGate,
    Layer,
    LearningPath,
    PathStep,
    Resource,
    Roadmap,
    Topic,
)

M = TypeVar("M", bound=models.Model)
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class ContentError:
    file: str
    entry: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.entry}" if self.entry else self.file
        return f"{where}: {self.message}"


class ContentInvalid(Exception):
    def __init__(self, errors: list[ContentError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


# --- field specifications -------------------------------------------------------------


@dataclass(frozen=True)
class F:
    """One field of a content entry."""

    kind: type | tuple[type, ...]
    required: bool = False
    choices: tuple[str, ...] = ()
    items: type | None = None  # for lists: the type of each item


STR, INT, LIST, DICT, BOOL = str, int, list, dict, bool

LEVEL_FIELDS = {
    "level": F(INT, required=True),
    "title": F(STR, required=True),
    "summary": F(STR),
    "abilities": F(LIST, items=str),
    "limit": F(STR),
    "gates": F(LIST, items=str),
}
ARTIFACT_FIELDS = {
    "code": F(STR, required=True),
    "slug": F(STR, required=True),
    "title": F(STR, required=True),
    "purpose": F(STR, required=True),
    "kind": F(STR, required=True, choices=tuple(ArtifactSpec.Kind.values)),
    "description": F(STR),
    "layers": F(LIST, items=str),
    "topics": F(LIST, items=str),
}
CHECKLIST_FIELDS = {
    "slug": F(STR, required=True),
    "title": F(STR, required=True),
    "summary": F(STR),
    "layers": F(LIST, items=str),
    "items": F(LIST, required=True, items=str),
}
PATH_FIELDS = {
    "slug": F(STR, required=True),
    "title": F(STR, required=True),
    "summary": F(STR),
    "estimated_time": F(STR),
    "estimated_hours": F(INT),
    "after": F((STR, type(None))),
    "topics": F(LIST, items=str),
    "remaining": F(BOOL),
}
RESOURCE_FIELDS = {
    "title": F(STR, required=True),
    "url": F(STR, required=True),
    "kind": F(STR, choices=tuple(Resource.Kind.values)),
    "group": F(STR),
    "layers": F(LIST, items=str),
    "topics": F(LIST, items=str),
}
SOURCE_FIELDS = {"title": F(STR, required=True), "url": F(STR)}
ROADMAP_FIELDS = {
    "slug": F(STR, required=True),
    "title": F(STR, required=True),
    "order": F(INT),
    "summary": F(STR, required=True),
    "body": F(STR),
    "source": F(DICT, required=True),
    "competency_levels": F(LIST, items=dict),
    "artifacts": F(LIST, items=dict),
    "checklists": F(LIST, items=dict),
    "learning_paths": F(LIST, items=dict),
    "resources": F(LIST, items=dict),
}
GATE_FIELDS = {
    "statement": F(STR, required=True),
    "criteria": F(LIST, items=str),
    "artifacts": F(LIST, items=str),
}
TOPIC_FIELDS = {
    "slug": F(STR, required=True),
    "title": F(STR, required=True),
    "summary": F(STR, required=True),
    "body": F(STR),
    "prerequisites": F(LIST, items=str),
    "source_url": F(STR),
}
LAYER_FIELDS = {
    "number": F(INT, required=True),
    "code": F(STR),
    "slug": F(STR, required=True),
    "title": F(STR, required=True),
    "kind": F(STR, required=True, choices=tuple(Layer.Kind.values)),
    "core_question": F(STR),
    "summary": F(STR, required=True),
    "objective": F(STR),
    "body": F(STR),
    "implement": F(STR),
    "exercises": F(STR),
    "failure_modes": F(LIST, items=str),
    "decisions": F(LIST, items=str),
    "definition_of_done": F(LIST, items=str),
    "source_url": F(STR),
    "gate": F(DICT),
    "topics": F(LIST, required=True, items=dict),
}


def _type_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {
        str: "text",
        int: "a whole number",
        list: "a list",
        dict: "a mapping",
        bool: "true or false",
    }
    return " or ".join(names.get(k, "null") for k in kinds)


def check_fields(data: Any, spec: dict[str, F], file: str, entry: str) -> list[ContentError]:
    """Required, unknown, typed and enumerated fields of one entry."""
    if not isinstance(data, dict):
        return [ContentError(file, entry, "must be a mapping of fields")]
    errors = []
    for name in data:
        if name not in spec:
            known = ", ".join(spec)
            errors.append(ContentError(file, entry, f"unknown field '{name}' (known fields: {known})"))
    for name, f in spec.items():
        value = data.get(name)
        if value is None or value == "" or value == []:
            if f.required:
                errors.append(ContentError(file, entry, f"missing required field '{name}'"))
            continue
        # bool is an int in Python; a number field given `true` is still wrong.
        if not isinstance(value, f.kind) or (f.kind is INT and isinstance(value, bool)):
            errors.append(
                ContentError(
                    file,
                    entry,
                    f"field '{name}' must be {_type_name(f.kind)}, not {value!r}",
                )
            )
            continue
        if f.choices and value not in f.choices:
            errors.append(
                ContentError(
                    file,
                    entry,
                    f"field '{name}' is {value!r}; choose one of: {', '.join(f.choices)}",
                )
            )
        if f.items is not None and isinstance(value, list):
            for i, item in enumerate(value):
                if not isinstance(item, f.items):
                    errors.append(
                        ContentError(
                            file,
                            entry,
                            f"{name}[{i}] must be {_type_name(f.items)}, not {item!r}",
                        )
                    )
    return errors


# --- reading ---------------------------------------------------------------------------


@dataclass
class LayerSource:
    file: str
    data: dict[str, Any]


@dataclass
class RoadmapSource:
    directory: Path
    file: str
    data: dict[str, Any]
    layers: list[LayerSource] = field(default_factory=list)
    digest: str = ""

    @property
    def slug(self) -> str:
        return str(self.data.get("slug", ""))

    def topics(self) -> Iterator[tuple[LayerSource, int, dict[str, Any]]]:
        for layer in self.layers:
            for i, topic in enumerate(layer.data.get("topics") or []):
                if isinstance(topic, dict):
                    yield layer, i, topic


def display_path(path: Path) -> str:
    """A path as people type it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _read_yaml(path: Path, errors: list[ContentError]) -> Any:
    rel = display_path(path)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        errors.append(ContentError(rel, where, f"is not valid YAML: {exc}"))
        return None


def read_sources(content_dir: Path) -> tuple[list[RoadmapSource], list[ContentError]]:
    errors: list[ContentError] = []
    sources = []
    if not content_dir.is_dir():
        return [], [ContentError(display_path(content_dir), "", "content folder not found")]
    for directory in sorted(p for p in content_dir.iterdir() if p.is_dir()):
        roadmap_file = directory / "roadmap.yaml"
        rel = display_path(roadmap_file)
        if not roadmap_file.exists():
            errors.append(ContentError(rel, "", "missing: every roadmap folder needs a roadmap.yaml"))
            continue
        digest = hashlib.sha256()
        files = [roadmap_file, *sorted((directory / "layers").glob("*.yaml"))]
        for path in files:
            digest.update(str(path.relative_to(directory)).encode() + b"\0" + path.read_bytes() + b"\0")
        data = _read_yaml(roadmap_file, errors)
        source = RoadmapSource(
            directory,
            rel,
            data if isinstance(data, dict) else {},
            digest=digest.hexdigest(),
        )
        if data is not None and not isinstance(data, dict):
            errors.append(ContentError(rel, "", "must be a mapping of fields"))
        for path in files[1:]:
            layer_data = _read_yaml(path, errors)
            layer_rel = display_path(path)
            if layer_data is None:
                continue
            if not isinstance(layer_data, dict):
                errors.append(ContentError(layer_rel, "", "must be a mapping of fields"))
                continue
            source.layers.append(LayerSource(layer_rel, layer_data))
        sources.append(source)
    return sources, errors


# --- validation ------------------------------------------------------------------------


def _entry(kind: str, index: int, item: Any, key: str = "slug") -> str:
    name = item.get(key) if isinstance(item, dict) else None
    return f"{kind}[{index}]" + (f" ({key} {name!r})" if name is not None else "")


def _duplicates(values: Iterable[Any]) -> set[Any]:
    return {v for v, n in Counter(values).items() if n > 1 and v is not None}


def validate_roadmap(src: RoadmapSource) -> list[ContentError]:
    errors = check_fields(src.data, ROADMAP_FIELDS, src.file, "")
    d = src.data
    file = src.file
    if isinstance(d.get("slug"), str) and not SLUG_RE.match(d["slug"]):
        errors.append(
            ContentError(
                file,
                "",
                f"slug {d['slug']!r} must be lowercase letters, digits and hyphens",
            )
        )
    if isinstance(d.get("source"), dict):
        errors += check_fields(d["source"], SOURCE_FIELDS, file, "source")

    # Layers and topics.
    layer_slugs: dict[str, LayerSource] = {}
    topic_slugs: dict[str, tuple[LayerSource, int]] = {}
    layer_numbers: Counter[int] = Counter()
    for layer in src.layers:
        ld = layer.data
        errors += check_fields(ld, LAYER_FIELDS, layer.file, "")
        slug = ld.get("slug")
        if isinstance(slug, str):
            if not SLUG_RE.match(slug):
                errors.append(
                    ContentError(
                        layer.file,
                        "",
                        f"slug {slug!r} must be lowercase letters, digits and hyphens",
                    )
                )
            if slug in layer_slugs:
                errors.append(
                    ContentError(
                        layer.file,
                        "",
                        f"duplicate layer slug {slug!r} (also in {layer_slugs[slug].file})",
                    )
                )
            layer_slugs[slug] = layer
        if isinstance(ld.get("number"), int):
            layer_numbers[ld["number"]] += 1
        if ld.get("kind") == Layer.Kind.CORE_LAYER:
            for required in ("core_question", "gate"):
                if not ld.get(required):
                    errors.append(
                        ContentError(
                            layer.file,
                            "",
                            f"missing required field '{required}' (required for a core_layer)",
                        )
                    )
        if isinstance(ld.get("gate"), dict):
            errors += check_fields(ld["gate"], GATE_FIELDS, layer.file, "gate")
        for i, topic in enumerate(ld.get("topics") or []):
            entry = _entry("topics", i, topic)
            errors += check_fields(topic, TOPIC_FIELDS, layer.file, entry)
            tslug = topic.get("slug") if isinstance(topic, dict) else None
            if isinstance(tslug, str):
                if not SLUG_RE.match(tslug):
                    errors.append(
                        ContentError(
                            layer.file,
                            entry,
                            "slug must be lowercase letters, digits and hyphens",
                        )
                    )
                if tslug in topic_slugs:
                    other = topic_slugs[tslug][0].file
                    errors.append(
                        ContentError(
                            layer.file,
                            entry,
                            f"duplicate topic slug (also in {other}); topic slugs are unique across the roadmap",
                        )
                    )
                topic_slugs[tslug] = (layer, i)
    for number in _duplicates(layer_numbers.elements()):
        files = [lay.file for lay in src.layers if lay.data.get("number") == number]
        errors.append(
            ContentError(
                files[-1],
                "",
                f"duplicate layer number {number} (also in {', '.join(files[:-1])})",
            )
        )

    def refs(
        file: str,
        entry: str,
        name: str,
        values: Any,
        known: dict[str, Any] | set[str],
        what: str,
    ) -> None:
        for value in values or []:
            if isinstance(value, str) and value not in known:
                errors.append(ContentError(file, entry, f"{name} {value!r} names no {what} in this roadmap"))

    for layer, i, topic in src.topics():
        refs(
            layer.file,
            _entry("topics", i, topic),
            "prerequisite",
            topic.get("prerequisites"),
            topic_slugs,
            "topic",
        )

    # Roadmap-wide lists.
    levels = d.get("competency_levels") or []
    artifacts = d.get("artifacts") or []
    artifact_codes = {a.get("code") for a in artifacts if isinstance(a, dict)}
    gated_layers = {slug for slug, lay in layer_slugs.items() if isinstance(lay.data.get("gate"), dict)}
    gate_owner: dict[str, int] = {}
    for i, level in enumerate(levels):
        entry = _entry("competency_levels", i, level, "level")
        errors += check_fields(level, LEVEL_FIELDS, file, entry)
        if not isinstance(level, dict):
            continue
        if isinstance(level.get("level"), int) and not 0 <= level["level"] <= 6:
            errors.append(ContentError(file, entry, "level must be between 0 and 6"))
        for gate in level.get("gates") or []:
            if gate not in layer_slugs:
                errors.append(ContentError(file, entry, f"gate {gate!r} names no layer in this roadmap"))
            elif gate not in gated_layers:
                errors.append(
                    ContentError(
                        file,
                        entry,
                        f"layer {gate!r} has no gate to count toward this level",
                    )
                )
            elif gate in gate_owner:
                errors.append(
                    ContentError(
                        file,
                        entry,
                        f"the gate of {gate!r} already counts toward level {gate_owner[gate]}",
                    )
                )
            else:
                gate_owner[gate] = level.get("level", i)
    for number in _duplicates(lv.get("level") for lv in levels if isinstance(lv, dict)):
        errors.append(ContentError(file, "competency_levels", f"duplicate level {number}"))

    for i, art in enumerate(artifacts):
        entry = _entry("artifacts", i, art, "code")
        errors += check_fields(art, ARTIFACT_FIELDS, file, entry)
        if isinstance(art, dict):
            refs(file, entry, "layer", art.get("layers"), layer_slugs, "layer")
            refs(file, entry, "topic", art.get("topics"), topic_slugs, "topic")
    for key in ("code", "slug"):
        for dup in _duplicates(a.get(key) for a in artifacts if isinstance(a, dict)):
            errors.append(ContentError(file, "artifacts", f"duplicate artifact {key} {dup!r}"))
    for layer in src.layers:
        gate = layer.data.get("gate")
        if isinstance(gate, dict):
            for code in gate.get("artifacts") or []:
                if code not in artifact_codes:
                    errors.append(
                        ContentError(
                            layer.file,
                            "gate",
                            f"artifact {code!r} names no artifact in roadmap.yaml",
                        )
                    )

    for i, checklist in enumerate(d.get("checklists") or []):
        entry = _entry("checklists", i, checklist)
        errors += check_fields(checklist, CHECKLIST_FIELDS, file, entry)
        if isinstance(checklist, dict):
            refs(file, entry, "layer", checklist.get("layers"), layer_slugs, "layer")
    for dup in _duplicates(c.get("slug") for c in d.get("checklists") or [] if isinstance(c, dict)):
        errors.append(ContentError(file, "checklists", f"duplicate checklist slug {dup!r}"))

    paths = d.get("learning_paths") or []
    path_slugs = {p.get("slug") for p in paths if isinstance(p, dict)}
    for i, path in enumerate(paths):
        entry = _entry("learning_paths", i, path)
        errors += check_fields(path, PATH_FIELDS, file, entry)
        if not isinstance(path, dict):
            continue
        refs(file, entry, "topic", path.get("topics"), topic_slugs, "topic")
        for dup in _duplicates(path.get("topics") or []):
            errors.append(ContentError(file, entry, f"topic {dup!r} is listed twice"))
        after = path.get("after")
        if after is not None and after not in path_slugs:
            errors.append(
                ContentError(
                    file,
                    entry,
                    f"after {after!r} names no learning path in this roadmap",
                )
            )
        if not path.get("topics") and not path.get("remaining"):
            errors.append(ContentError(file, entry, "lists no topics (give topics, or remaining: true)"))
    for dup in _duplicates(p.get("slug") for p in paths if isinstance(p, dict)):
        errors.append(ContentError(file, "learning_paths", f"duplicate learning path slug {dup!r}"))

    for i, res in enumerate(d.get("resources") or []):
        entry = _entry("resources", i, res, "title")
        errors += check_fields(res, RESOURCE_FIELDS, file, entry)
        if isinstance(res, dict):
            refs(file, entry, "layer", res.get("layers"), layer_slugs, "layer")
            refs(file, entry, "topic", res.get("topics"), topic_slugs, "topic")
    for dup in _duplicates(r.get("url") for r in d.get("resources") or [] if isinstance(r, dict)):
        errors.append(ContentError(file, "resources", f"duplicate resource url {dup!r}"))

    errors += _cycle_errors(src, topic_slugs)
    return errors


def prerequisite_graph(topics: Iterable[tuple[str, Iterable[str]]]) -> nx.DiGraph:
    """Edges point from a prerequisite to the topic that needs it."""
    graph = nx.DiGraph()
    for slug, prerequisites in topics:
        graph.add_node(slug)
        for pre in prerequisites:
            graph.add_edge(pre, slug)
    return graph


def _cycle_errors(src: RoadmapSource, topic_slugs: dict[str, tuple[LayerSource, int]]) -> list[ContentError]:
    graph = prerequisite_graph(
        (t["slug"], [p for p in t.get("prerequisites") or [] if p in topic_slugs])
        for _, _, t in src.topics()
        if isinstance(t.get("slug"), str)
    )
    errors = []
    for component in nx.strongly_connected_components(graph):
        if len(component) == 1 and not any(graph.has_edge(n, n) for n in component):
            continue
        cycle = nx.find_cycle(graph.subgraph(component))
        nodes = [edge[0] for edge in cycle] + [cycle[0][0]]
        layer, i = topic_slugs[nodes[0]]
        errors.append(
            ContentError(
                layer.file,
                _entry("topics", i, {"slug": nodes[0]}),
                "prerequisite cycle: " + " -> ".join(nodes),
            )
        )
    return errors


def validate(sources: list[RoadmapSource]) -> list[ContentError]:
    errors: list[ContentError] = []
    seen: dict[str, str] = {}
    for src in sources:
        errors += validate_roadmap(src)
        if src.slug in seen:
            errors.append(
                ContentError(
                    src.file,
                    "",
                    f"duplicate roadmap slug {src.slug!r} (also in {seen[src.slug]})",
                )
            )
        seen[src.slug] = src.file
    return errors


# --- writing ---------------------------------------------------------------------------


@dataclass
class LoadReport:
    roadmap: str
    counts: Counter[str] = field(default_factory=Counter)

    def count(self, model: str, outcome: str) -> None:
        self.counts[f"{model} {outcome}"] += 1

    @property
    def changed(self) -> bool:
        return any(n for key, n in self.counts.items() if not key.endswith(" unchanged"))

    def __str__(self) -> str:
        if not self.changed:
            return f"{self.roadmap}: unchanged"
        parts = [f"{n} {key}" for key, n in sorted(self.counts.items()) if not key.endswith(" unchanged") and n]
        return f"{self.roadmap}: " + ", ".join(parts)


def _upsert(model: type[M], report: LoadReport, lookup: dict[str, Any], values: dict[str, Any]) -> M:
    """Create or update one row, writing only the fields whose values differ."""
    label = model._meta.verbose_name_plural
    obj = model._default_manager.filter(**lookup).first()
    if obj is None:
        obj = model._default_manager.create(**lookup, **values)
        report.count(str(label), "created")
        return obj
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    if changed:
        for name in changed:
            setattr(obj, name, values[name])
        obj.save(update_fields=changed)
        report.count(str(label), "updated")
    else:
        report.count(str(label), "unchanged")
    return obj


def _set_m2m(manager: Any, targets: Iterable[models.Model], report: LoadReport, label: str) -> None:
    wanted = {t.pk for t in targets}
    if set(manager.values_list("pk", flat=True)) != wanted:
        manager.set(wanted)
        report.count(label, "relinked")


def _retire(queryset: models.QuerySet[Any], keep: Iterable[int], report: LoadReport, label: str) -> None:
    # Select first: an UPDATE that matches nothing is still a write, and reloads must write nothing.
    stale = list(queryset.exclude(pk__in=list(keep)).filter(retired=False).values_list("pk", flat=True))
    if stale:
        queryset.model._default_manager.filter(pk__in=stale).update(retired=True)
        report.counts[f"{label} retired"] += len(stale)


def _text(value: Any) -> str:
    return (value or "").strip()


def write_roadmap(src: RoadmapSource) -> LoadReport:
    d = src.data
    report = LoadReport(src.slug)
    roadmap = _upsert(
        Roadmap,
        report,
        {"slug": src.slug},
        {
            "title": d["title"].strip(),
            "summary": _text(d.get("summary")),
            "body": _text(d.get("body")),
            "source_title": _text(d["source"].get("title")),
            "source_url": _text(d["source"].get("url")),
            "order": d.get("order") or 0,
            "content_version": src.digest,
            "retired": False,
        },
    )

    layers: dict[str, Layer] = {}
    for layer_src in sorted(src.layers, key=lambda lay: lay.data["number"]):
        ld = layer_src.data
        layers[ld["slug"]] = _upsert(
            Layer,
            report,
            {"roadmap": roadmap, "slug": ld["slug"]},
            {
                "number": ld["number"],
                "code": str(ld.get("code") or ld["number"]),
                "title": ld["title"].strip(),
                "kind": ld["kind"],
                "core_question": _text(ld.get("core_question")),
                "summary": _text(ld.get("summary")),
                "objective": _text(ld.get("objective")),
                "body": _text(ld.get("body")),
                "implement": _text(ld.get("implement")),
                "exercises": _text(ld.get("exercises")),
                "failure_modes": ld.get("failure_modes") or [],
                "decisions": ld.get("decisions") or [],
                "definition_of_done": ld.get("definition_of_done") or [],
                "source_url": _text(ld.get("source_url")) or _text(d["source"].get("url")),
                "retired": False,
            },
        )
    _retire(roadmap.layers.all(), [lay.pk for lay in layers.values()], report, "layers")

    topics: dict[str, Topic] = {}
    for layer_src, i, td in src.topics():
        layer = layers[layer_src.data["slug"]]
        topics[td["slug"]] = _upsert(
            Topic,
            report,
            {"roadmap": roadmap, "slug": td["slug"]},
            {
                "layer": layer,
                "title": td["title"].strip(),
                "summary": _text(td.get("summary")),
                "body": _text(td.get("body")),
                "order": i,
                "source_url": _text(td.get("source_url")) or layer.source_url,
                "retired": False,
            },
        )
    for _, _, td in src.topics():
        _set_m2m(
            topics[td["slug"]].prerequisites,
            [topics[p] for p in td.get("prerequisites") or []],
            report,
            "prerequisites",
        )
    _retire(roadmap.topics.all(), [t.pk for t in topics.values()], report, "topics")

    levels: dict[int, CompetencyLevel] = {}
    for ld in d.get("competency_levels") or []:
        levels[ld["level"]] = _upsert(
            CompetencyLevel,
            report,
            {"roadmap": roadmap, "number": ld["level"]},
            {
                "title": ld["title"].strip(),
                "summary": _text(ld.get("summary")),
                "abilities": ld.get("abilities") or [],
                "limit": _text(ld.get("limit")),
                "retired": False,
            },
        )
    _retire(
        roadmap.levels.all(),
        [lv.pk for lv in levels.values()],
        report,
        "competency levels",
    )

    artifacts: dict[str, ArtifactSpec] = {}
    for ad in d.get("artifacts") or []:
        spec = _upsert(
            ArtifactSpec,
            report,
            {"roadmap": roadmap, "code": ad["code"]},
            {
                "slug": ad["slug"],
                "title": ad["title"].strip(),
                "purpose": _text(ad.get("purpose")),
                "description": _text(ad.get("description")),
                "kind": ad["kind"],
                "retired": False,
            },
        )
        _set_m2m(
            spec.layers,
            [layers[s] for s in ad.get("layers") or []],
            report,
            "artifact layers",
        )
        _set_m2m(
            spec.topics,
            [topics[s] for s in ad.get("topics") or []],
            report,
            "artifact topics",
        )
        artifacts[ad["code"]] = spec
    _retire(
        roadmap.artifact_specs.all(),
        [a.pk for a in artifacts.values()],
        report,
        "artifact specs",
    )

    level_of_gate = {
        gate: levels[ld["level"]] for ld in d.get("competency_levels") or [] for gate in ld.get("gates") or []
    }
    gates = []
    for layer_src in src.layers:
        gd = layer_src.data.get("gate")
        if not isinstance(gd, dict):
            continue
        layer = layers[layer_src.data["slug"]]
        gate = _upsert(
            EvaluationGate,
            report,
            {"layer": layer},
            {
                "statement": _text(gd.get("statement")),
                "criteria": gd.get("criteria") or [],
                "level": level_of_gate.get(layer.slug),
                "retired": False,
            },
        )
        _set_m2m(
            gate.required_artifacts,
            [artifacts[c] for c in gd.get("artifacts") or []],
            report,
            "gate artifacts",
        )
        gates.append(gate)
    _retire(
        EvaluationGate.objects.filter(layer__roadmap=roadmap),
        [g.pk for g in gates],
        report,
        "gates",
    )

    _write_paths(src, roadmap, topics, report)

    checklists = []
    for i, cd in enumerate(d.get("checklists") or []):
        checklist = _upsert(
            Checklist,
            report,
            {"roadmap": roadmap, "slug": cd["slug"]},
            {
                "title": cd["title"].strip(),
                "summary": _text(cd.get("summary")),
                "items": cd.get("items") or [],
                "order": i,
                "retired": False,
            },
        )
        _set_m2m(
            checklist.layers,
            [layers[s] for s in cd.get("layers") or []],
            report,
            "checklist layers",
        )
        checklists.append(checklist)
    _retire(roadmap.checklists.all(), [c.pk for c in checklists], report, "checklists")

    resources = []
    for i, rd in enumerate(d.get("resources") or []):
        resource = _upsert(
            Resource,
            report,
            {"roadmap": roadmap, "url": rd["url"]},
            {
                "title": rd["title"].strip(),
                "kind": rd.get("kind") or Resource.Kind.DOCS,
                "group": _text(rd.get("group")),
                "order": i,
                "retired": False,
            },
        )
        _set_m2m(
            resource.layers,
            [layers[s] for s in rd.get("layers") or []],
            report,
            "resource layers",
        )
        _set_m2m(
            resource.topics,
            [topics[s] for s in rd.get("topics") or []],
            report,
            "resource topics",
        )
        resources.append(resource)
    _retire(roadmap.resources.all(), [r.pk for r in resources], report, "resources")

    if report.changed:
        Roadmap.objects.filter(pk=roadmap.pk).update(loaded_at=timezone.now())
    return report


def _write_paths(src: RoadmapSource, roadmap: Roadmap, topics: dict[str, Topic], report: LoadReport) -> None:
    ordered_topics = [td["slug"] for _, _, td in sorted(src.topics(), key=lambda x: (x[0].data["number"], x[1]))]
    listed: set[str] = set()
    paths: dict[str, LearningPath] = {}
    path_data = src.data.get("learning_paths") or []
    for i, pd in enumerate(path_data):
        steps = list(pd.get("topics") or [])
        if pd.get("remaining"):
            steps += [slug for slug in ordered_topics if slug not in listed and slug not in steps]
        listed.update(steps)
        path = _upsert(
            LearningPath,
            report,
            {"roadmap": roadmap, "slug": pd["slug"]},
            {
                "title": pd["title"].strip(),
                "summary": _text(pd.get("summary")),
                "estimated_time": _text(pd.get("estimated_time")),
                "estimated_hours": pd.get("estimated_hours"),
                "order": i,
                "retired": False,
            },
        )
        current = list(path.steps.order_by("order").values_list("topic__slug", flat=True))
        if current != steps:
            path.steps.all().delete()
            PathStep.objects.bulk_create(
                PathStep(path=path, topic=topics[slug], order=n) for n, slug in enumerate(steps)
            )
            report.count("path steps", "rewritten")
        paths[pd["slug"]] = path
    for pd in path_data:
        after = paths.get(pd.get("after") or "")
        path = paths[pd["slug"]]
        if path.after_id != (after.pk if after else None):
            path.after = after
            path.save(update_fields=["after"])
            report.count("learning paths", "relinked")
    _retire(roadmap.paths.all(), [p.pk for p in paths.values()], report, "learning paths")


def load(
    content_dir: Path,
    *,
    dry_run: bool = False,
    only: Callable[[RoadmapSource], bool] | None = None,
) -> list[LoadReport]:
    """Validate every roadmap under content_dir, then write them. Raises ContentInvalid."""
    sources, errors = read_sources(content_dir)
    errors += validate(sources)
    if errors:
        raise ContentInvalid(errors)
    if only is not None:
        sources = [s for s in sources if only(s)]
    if dry_run:
        return [LoadReport(s.slug) for s in sources]
    with transaction.atomic():
        return [write_roadmap(src) for src in sources]
