"""Writing: upsert a validated roadmap by its stable slugs, one kind of row after another.

Rows whose values already match are left alone, so writing the same files twice writes nothing.
Rows the files no longer name are retired (hidden, kept), never deleted, so learner progress,
notes and evidence that point at them survive every reload; a retired row that reappears in the
files comes back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import models
from django.utils import timezone

from roadmap.content.read import RoadmapSource
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


def write_roadmap(src: RoadmapSource) -> LoadReport:
    """Upsert one validated roadmap. Call it inside a transaction."""
    report = LoadReport(src.slug)
    roadmap = write_roadmap_row(src, report)
    layers = write_layers(src, roadmap, report)
    topics = write_topics(src, roadmap, layers, report)
    levels = write_levels(src, roadmap, report)
    artifacts = write_artifacts(src, roadmap, layers, topics, report)
    write_gates(src, roadmap, layers, levels, artifacts, report)
    write_paths(src, roadmap, topics, report)
    write_checklists(src, roadmap, layers, report)
    write_resources(src, roadmap, layers, topics, report)
    if report.changed:
        Roadmap.objects.filter(pk=roadmap.pk).update(loaded_at=timezone.now())
    return report


def write_roadmap_row(src: RoadmapSource, report: LoadReport) -> Roadmap:
    d = src.data
    values = {
        "title": d["title"].strip(),
        "summary": _text(d.get("summary")),
        "body": _text(d.get("body")),
        "source_title": _text(d["source"].get("title")),
        "source_url": _text(d["source"].get("url")),
        "order": d.get("order") or 0,
        "content_version": src.digest,
        "retired": False,
    }
    return _upsert(Roadmap, report, {"slug": src.slug}, values)


def write_layers(src: RoadmapSource, roadmap: Roadmap, report: LoadReport) -> dict[str, Layer]:
    layers: dict[str, Layer] = {}
    for layer_src in sorted(src.layers, key=lambda lay: lay.data["number"]):
        ld = layer_src.data
        values = {
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
            "source_url": _text(ld.get("source_url")) or _text(src.data["source"].get("url")),
            "retired": False,
        }
        layers[ld["slug"]] = _upsert(Layer, report, {"roadmap": roadmap, "slug": ld["slug"]}, values)
    _retire(roadmap.layers.all(), [lay.pk for lay in layers.values()], report, "layers")
    return layers


def write_topics(
    src: RoadmapSource, roadmap: Roadmap, layers: dict[str, Layer], report: LoadReport
) -> dict[str, Topic]:
    """Topics are matched by (roadmap, slug), so a topic may move between layers and keep its row."""
    topics: dict[str, Topic] = {}
    for layer_src, i, td in src.topics():
        layer = layers[layer_src.data["slug"]]
        values = {
            "layer": layer,
            "title": td["title"].strip(),
            "summary": _text(td.get("summary")),
            "body": _text(td.get("body")),
            "order": i,
            "source_url": _text(td.get("source_url")) or layer.source_url,
            "retired": False,
        }
        topics[td["slug"]] = _upsert(Topic, report, {"roadmap": roadmap, "slug": td["slug"]}, values)
    # Linked once every topic exists: a prerequisite may come later in the files.
    for _, _, td in src.topics():
        prerequisites = [topics[p] for p in td.get("prerequisites") or []]
        _set_m2m(topics[td["slug"]].prerequisites, prerequisites, report, "prerequisites")
    _retire(roadmap.topics.all(), [t.pk for t in topics.values()], report, "topics")
    return topics


def write_levels(src: RoadmapSource, roadmap: Roadmap, report: LoadReport) -> dict[int, CompetencyLevel]:
    levels: dict[int, CompetencyLevel] = {}
    for ld in src.data.get("competency_levels") or []:
        values = {
            "title": ld["title"].strip(),
            "summary": _text(ld.get("summary")),
            "abilities": ld.get("abilities") or [],
            "limit": _text(ld.get("limit")),
            "retired": False,
        }
        levels[ld["level"]] = _upsert(CompetencyLevel, report, {"roadmap": roadmap, "number": ld["level"]}, values)
    _retire(roadmap.levels.all(), [lv.pk for lv in levels.values()], report, "competency levels")
    return levels


def write_artifacts(
    src: RoadmapSource,
    roadmap: Roadmap,
    layers: dict[str, Layer],
    topics: dict[str, Topic],
    report: LoadReport,
) -> dict[str, ArtifactSpec]:
    artifacts: dict[str, ArtifactSpec] = {}
    for ad in src.data.get("artifacts") or []:
        values = {
            "slug": ad["slug"],
            "title": ad["title"].strip(),
            "purpose": _text(ad.get("purpose")),
            "description": _text(ad.get("description")),
            "kind": ad["kind"],
            "retired": False,
        }
        spec = _upsert(ArtifactSpec, report, {"roadmap": roadmap, "code": ad["code"]}, values)
        _set_m2m(spec.layers, [layers[s] for s in ad.get("layers") or []], report, "artifact layers")
        _set_m2m(spec.topics, [topics[s] for s in ad.get("topics") or []], report, "artifact topics")
        artifacts[ad["code"]] = spec
    _retire(roadmap.artifact_specs.all(), [a.pk for a in artifacts.values()], report, "artifact specs")
    return artifacts


def write_gates(
    src: RoadmapSource,
    roadmap: Roadmap,
    layers: dict[str, Layer],
    levels: dict[int, CompetencyLevel],
    artifacts: dict[str, ArtifactSpec],
    report: LoadReport,
) -> None:
    """A layer's gate is matched by its layer; the competency level that lists the layer owns it."""
    level_of_gate = {
        gate: levels[ld["level"]] for ld in src.data.get("competency_levels") or [] for gate in ld.get("gates") or []
    }
    gates = []
    for layer_src in src.layers:
        gd = layer_src.data.get("gate")
        if not isinstance(gd, dict):
            continue
        layer = layers[layer_src.data["slug"]]
        values = {
            "statement": _text(gd.get("statement")),
            "criteria": gd.get("criteria") or [],
            "level": level_of_gate.get(layer.slug),
            "retired": False,
        }
        gate = _upsert(EvaluationGate, report, {"layer": layer}, values)
        required = [artifacts[c] for c in gd.get("artifacts") or []]
        _set_m2m(gate.required_artifacts, required, report, "gate artifacts")
        gates.append(gate)
    _retire(EvaluationGate.objects.filter(layer__roadmap=roadmap), [g.pk for g in gates], report, "gates")


def write_paths(src: RoadmapSource, roadmap: Roadmap, topics: dict[str, Topic], report: LoadReport) -> None:
    path_data = src.data.get("learning_paths") or []
    paths: dict[str, LearningPath] = {}
    for i, (pd, steps) in enumerate(zip(path_data, path_steps(src), strict=True)):
        values = {
            "title": pd["title"].strip(),
            "summary": _text(pd.get("summary")),
            "estimated_time": _text(pd.get("estimated_time")),
            "estimated_hours": pd.get("estimated_hours"),
            "order": i,
            "retired": False,
        }
        path = _upsert(LearningPath, report, {"roadmap": roadmap, "slug": pd["slug"]}, values)
        _set_steps(path, [topics[slug] for slug in steps], report)
        paths[pd["slug"]] = path
    # Linked once every path exists: `after` may name a later one.
    for pd in path_data:
        after = paths.get(pd.get("after") or "")
        path = paths[pd["slug"]]
        if path.after_id != (after.pk if after else None):
            path.after = after
            path.save(update_fields=["after"])
            report.count("learning paths", "relinked")
    _retire(roadmap.paths.all(), [p.pk for p in paths.values()], report, "learning paths")


def path_steps(src: RoadmapSource) -> list[list[str]]:
    """Each learning path's topic slugs in order. `remaining: true` appends, in roadmap order, every
    topic no earlier path lists."""
    in_roadmap_order = [td["slug"] for _, _, td in sorted(src.topics(), key=lambda x: (x[0].data["number"], x[1]))]
    listed: set[str] = set()
    all_steps = []
    for pd in src.data.get("learning_paths") or []:
        steps = list(pd.get("topics") or [])
        if pd.get("remaining"):
            steps += [slug for slug in in_roadmap_order if slug not in listed and slug not in steps]
        listed.update(steps)
        all_steps.append(steps)
    return all_steps


def write_checklists(src: RoadmapSource, roadmap: Roadmap, layers: dict[str, Layer], report: LoadReport) -> None:
    checklists = []
    for i, cd in enumerate(src.data.get("checklists") or []):
        values = {
            "title": cd["title"].strip(),
            "summary": _text(cd.get("summary")),
            "items": cd.get("items") or [],
            "order": i,
            "retired": False,
        }
        checklist = _upsert(Checklist, report, {"roadmap": roadmap, "slug": cd["slug"]}, values)
        _set_m2m(checklist.layers, [layers[s] for s in cd.get("layers") or []], report, "checklist layers")
        checklists.append(checklist)
    _retire(roadmap.checklists.all(), [c.pk for c in checklists], report, "checklists")


def write_resources(
    src: RoadmapSource,
    roadmap: Roadmap,
    layers: dict[str, Layer],
    topics: dict[str, Topic],
    report: LoadReport,
) -> None:
    """Resources are matched by URL."""
    resources = []
    for i, rd in enumerate(src.data.get("resources") or []):
        values = {
            "title": rd["title"].strip(),
            "kind": rd.get("kind") or Resource.Kind.DOCS,
            "group": _text(rd.get("group")),
            "order": i,
            "retired": False,
        }
        resource = _upsert(Resource, report, {"roadmap": roadmap, "url": rd["url"]}, values)
        _set_m2m(resource.layers, [layers[s] for s in rd.get("layers") or []], report, "resource layers")
        _set_m2m(resource.topics, [topics[s] for s in rd.get("topics") or []], report, "resource topics")
        resources.append(resource)
    _retire(roadmap.resources.all(), [r.pk for r in resources], report, "resources")


# --- writing only what differs -------------------------------------------------------------


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


def _set_steps(path: LearningPath, topics: list[Topic], report: LoadReport) -> None:
    """Rewrite a path's steps when its topics or their order changed."""
    current = list(path.steps.order_by("order").values_list("topic__slug", flat=True))
    if current != [t.slug for t in topics]:
        path.steps.all().delete()
        PathStep.objects.bulk_create(PathStep(path=path, topic=topic, order=n) for n, topic in enumerate(topics))
        report.count("path steps", "rewritten")


def _retire(queryset: models.QuerySet[Any], keep: Iterable[int], report: LoadReport, label: str) -> None:
    # Select first: an UPDATE that matches nothing is still a write, and reloads must write nothing.
    stale = list(queryset.exclude(pk__in=list(keep)).filter(retired=False).values_list("pk", flat=True))
    if stale:
        queryset.model._default_manager.filter(pk__in=stale).update(retired=True)
        report.counts[f"{label} retired"] += len(stale)


def _text(value: Any) -> str:
    return (value or "").strip()
