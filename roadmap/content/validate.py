"""Validation: the rules the content files keep, each one function naming the file and entry that breaks it.

Each kind of entry (roadmap.yaml, a layer file, a topic, a competency level...) has its `Rules`: the
fields it may have, then the checks that run on it once those are read as a mapping. A check takes
the entry and the `Names` the roadmap defines and yields errors. Checks that look across entries
(duplicates, the prerequisite DAG) take the whole roadmap and are listed in `ROADMAP_CHECKS`. A new
rule is one function added to one of these tuples; the tuples' order is the order errors are
reported in.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Container, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import networkx as nx

from roadmap.content.errors import ContentError
from roadmap.content.read import Entry, RoadmapSource, layer_topic_entries
from roadmap.content.schema import (
    ARTIFACT_FIELDS,
    CHECKLIST_FIELDS,
    GATE_FIELDS,
    LAYER_FIELDS,
    LEVEL_FIELDS,
    PATH_FIELDS,
    RESOURCE_FIELDS,
    ROADMAP_FIELDS,
    SOURCE_FIELDS,
    TOPIC_FIELDS,
    F,
    check_fields,
)
from roadmap.graph import prerequisite_graph
from roadmap.models import Layer

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def validate(sources: list[RoadmapSource]) -> list[ContentError]:
    errors: list[ContentError] = []
    seen: dict[str, str] = {}
    for src in sources:
        errors += validate_roadmap(src)
        if src.slug in seen:
            errors.append(ContentError(src.file, "", f"duplicate roadmap slug {src.slug!r} (also in {seen[src.slug]})"))
        seen[src.slug] = src.file
    return errors


def validate_roadmap(src: RoadmapSource) -> list[ContentError]:
    names = Names.of(src)
    return [error for check in ROADMAP_CHECKS for error in check(src, names)]


@dataclass(frozen=True)
class GateClaim:
    level: Entry
    position: int  # in the level's gates list
    number: Any


@dataclass
class Names:
    """What a roadmap's files name, gathered before any check runs so that each check can look names up."""

    layers: dict[str, list[Entry]]  # slug -> the layer files that use it, in file order
    topics: dict[str, list[Entry]]  # slug -> the topic entries that use it, in file order
    gated_layers: set[str]
    artifact_codes: set[Any]
    path_slugs: set[Any]
    gate_claims: dict[str, GateClaim]  # layer slug -> the first level counting that layer's gate

    @classmethod
    def of(cls, src: RoadmapSource) -> Names:
        layers = _places(src.layers)
        topics = _places(src.topic_entries())
        # Where a slug repeats, the last file that uses it stands for it.
        gated = {slug for slug, places in layers.items() if isinstance(places[-1].data.get("gate"), dict)}
        return cls(
            layers=layers,
            topics=topics,
            gated_layers=gated,
            artifact_codes={e.data.get("code") for e in src.entries("artifacts", "code") if isinstance(e.data, dict)},
            path_slugs={e.data.get("slug") for e in src.entries("learning_paths") if isinstance(e.data, dict)},
            gate_claims=_gate_claims(src, layers, gated),
        )


def _places(entries: Iterable[Entry]) -> dict[str, list[Entry]]:
    places: dict[str, list[Entry]] = {}
    for entry in entries:
        slug = entry.data.get("slug") if isinstance(entry.data, dict) else None
        if isinstance(slug, str):
            places.setdefault(slug, []).append(entry)
    return places


def _gate_claims(src: RoadmapSource, layers: Container[str], gated: Container[str]) -> dict[str, GateClaim]:
    claims: dict[str, GateClaim] = {}
    for i, level in enumerate(src.entries("competency_levels", "level")):
        if not isinstance(level.data, dict):
            continue
        for j, gate in enumerate(level.data.get("gates") or []):
            if gate in layers and gate in gated and gate not in claims:
                claims[gate] = GateClaim(level, j, level.data.get("level", i))
    return claims


# --- the rules of each kind of entry -------------------------------------------------------

EntryCheck = Callable[[Entry, Names], Iterable[ContentError]]
RoadmapCheck = Callable[[RoadmapSource, Names], Iterable[ContentError]]


@dataclass(frozen=True)
class Rules:
    fields: dict[str, F]
    checks: tuple[EntryCheck, ...] = ()

    def check(self, entry: Entry, names: Names) -> Iterator[ContentError]:
        yield from check_fields(entry.data, self.fields, entry.file, entry.name)
        if isinstance(entry.data, dict):
            for check in self.checks:
                yield from check(entry, names)


def slug_is_well_formed(entry: Entry, names: Names) -> Iterator[ContentError]:
    slug = entry.data.get("slug")
    if isinstance(slug, str) and not SLUG_RE.match(slug):
        subject = "slug" if entry.name else f"slug {slug!r}"  # a list item's name already shows it
        yield ContentError(entry.file, entry.name, f"{subject} must be lowercase letters, digits and hyphens")


def source_has_its_fields(roadmap: Entry, names: Names) -> Iterator[ContentError]:
    if isinstance(roadmap.data.get("source"), dict):
        yield from check_fields(roadmap.data["source"], SOURCE_FIELDS, roadmap.file, "source")


def layer_slug_is_unique(layer: Entry, names: Names) -> Iterator[ContentError]:
    earlier = _earlier(layer, names.layers)
    if earlier is not None:
        slug = layer.data["slug"]
        yield ContentError(layer.file, "", f"duplicate layer slug {slug!r} (also in {earlier.file})")


def core_layer_has_question_and_gate(layer: Entry, names: Names) -> Iterator[ContentError]:
    if layer.data.get("kind") == Layer.Kind.CORE_LAYER:
        for required in ("core_question", "gate"):
            if not layer.data.get(required):
                yield ContentError(layer.file, "", f"missing required field '{required}' (required for a core_layer)")


def gate_has_its_fields(layer: Entry, names: Names) -> Iterator[ContentError]:
    if isinstance(layer.data.get("gate"), dict):
        yield from check_fields(layer.data["gate"], GATE_FIELDS, layer.file, "gate")


def layer_topics_keep_their_rules(layer: Entry, names: Names) -> Iterator[ContentError]:
    for topic in layer_topic_entries(layer):
        yield from TOPIC.check(topic, names)


def topic_slug_is_unique(topic: Entry, names: Names) -> Iterator[ContentError]:
    earlier = _earlier(topic, names.topics)
    if earlier is not None:
        yield ContentError(
            topic.file,
            topic.name,
            f"duplicate topic slug (also in {earlier.file}); topic slugs are unique across the roadmap",
        )


def level_is_0_to_6(level: Entry, names: Names) -> Iterator[ContentError]:
    number = level.data.get("level")
    if isinstance(number, int) and not 0 <= number <= 6:
        yield ContentError(level.file, level.name, "level must be between 0 and 6")


def level_gates_count_once(level: Entry, names: Names) -> Iterator[ContentError]:
    """Each gate a level lists belongs to a gated layer, and counts toward one level only."""
    for j, gate in enumerate(level.data.get("gates") or []):
        if gate not in names.layers:
            yield ContentError(level.file, level.name, f"gate {gate!r} names no layer in this roadmap")
        elif gate not in names.gated_layers:
            yield ContentError(level.file, level.name, f"layer {gate!r} has no gate to count toward this level")
        else:
            claim = names.gate_claims[gate]
            if (claim.level, claim.position) != (level, j):
                message = f"the gate of {gate!r} already counts toward level {claim.number}"
                yield ContentError(level.file, level.name, message)


def layers_are_known(entry: Entry, names: Names) -> Iterator[ContentError]:
    yield from _unknown(entry, "layers", "layer", names.layers, "layer")


def topics_are_known(entry: Entry, names: Names) -> Iterator[ContentError]:
    yield from _unknown(entry, "topics", "topic", names.topics, "topic")


def path_lists_each_topic_once(path: Entry, names: Names) -> Iterator[ContentError]:
    for dup in _duplicates(path.data.get("topics") or []):
        yield ContentError(path.file, path.name, f"topic {dup!r} is listed twice")


def path_after_is_known(path: Entry, names: Names) -> Iterator[ContentError]:
    after = path.data.get("after")
    if after is not None and after not in names.path_slugs:
        yield ContentError(path.file, path.name, f"after {after!r} names no learning path in this roadmap")


def path_lists_topics(path: Entry, names: Names) -> Iterator[ContentError]:
    if not path.data.get("topics") and not path.data.get("remaining"):
        yield ContentError(path.file, path.name, "lists no topics (give topics, or remaining: true)")


ROADMAP = Rules(ROADMAP_FIELDS, (slug_is_well_formed, source_has_its_fields))
TOPIC = Rules(TOPIC_FIELDS, (slug_is_well_formed, topic_slug_is_unique))
LAYER = Rules(
    LAYER_FIELDS,
    (
        slug_is_well_formed,
        layer_slug_is_unique,
        core_layer_has_question_and_gate,
        gate_has_its_fields,
        layer_topics_keep_their_rules,
    ),
)
LEVEL = Rules(LEVEL_FIELDS, (level_is_0_to_6, level_gates_count_once))
ARTIFACT = Rules(ARTIFACT_FIELDS, (layers_are_known, topics_are_known))
CHECKLIST = Rules(CHECKLIST_FIELDS, (layers_are_known,))
PATH = Rules(PATH_FIELDS, (topics_are_known, path_lists_each_topic_once, path_after_is_known, path_lists_topics))
RESOURCE = Rules(RESOURCE_FIELDS, (layers_are_known, topics_are_known))


# --- checks across a roadmap ---------------------------------------------------------------


def files_keep_their_rules(src: RoadmapSource, names: Names) -> Iterator[ContentError]:
    """roadmap.yaml's own fields, then each layer file with its gate and topics."""
    yield from ROADMAP.check(Entry(src.file, src.data), names)
    for layer in src.layers:
        yield from LAYER.check(layer, names)


def each(kind: str, key: str, rules: Rules) -> RoadmapCheck:
    """The rules of every item of one of roadmap.yaml's lists; `key` names items in errors."""

    def check(src: RoadmapSource, names: Names) -> Iterator[ContentError]:
        for entry in src.entries(kind, key):
            yield from rules.check(entry, names)

    return check


def unique(kind: str, key: str, message: str) -> RoadmapCheck:
    """No two items of one of roadmap.yaml's lists share `key`; `message` formats the repeated value."""

    def check(src: RoadmapSource, names: Names) -> Iterator[ContentError]:
        values = (e.data.get(key) for e in src.entries(kind) if isinstance(e.data, dict))
        for dup in _duplicates(values):
            yield ContentError(src.file, kind, message.format(dup))

    return check


def layer_numbers_are_unique(src: RoadmapSource, names: Names) -> Iterator[ContentError]:
    numbers = (lay.data["number"] for lay in src.layers if isinstance(lay.data.get("number"), int))
    for number in _duplicates(numbers):
        files = [lay.file for lay in src.layers if lay.data.get("number") == number]
        yield ContentError(files[-1], "", f"duplicate layer number {number} (also in {', '.join(files[:-1])})")


def prerequisites_are_known(src: RoadmapSource, names: Names) -> Iterator[ContentError]:
    for topic in src.topic_entries():
        if isinstance(topic.data, dict):
            yield from _unknown(topic, "prerequisites", "prerequisite", names.topics, "topic")


def gate_artifacts_are_known(src: RoadmapSource, names: Names) -> Iterator[ContentError]:
    for layer in src.layers:
        gate = layer.data.get("gate")
        if isinstance(gate, dict):
            for code in gate.get("artifacts") or []:
                if code not in names.artifact_codes:
                    yield ContentError(layer.file, "gate", f"artifact {code!r} names no artifact in roadmap.yaml")


def prerequisites_have_no_cycle(src: RoadmapSource, names: Names) -> Iterator[ContentError]:
    """Each cycle once, named by its nodes, at the entry of the topic it starts from."""
    graph = prerequisite_graph(
        (t["slug"], [p for p in t.get("prerequisites") or [] if p in names.topics])
        for _, _, t in src.topics()
        if isinstance(t.get("slug"), str)
    )
    for component in nx.strongly_connected_components(graph):
        if len(component) == 1 and not any(graph.has_edge(n, n) for n in component):
            continue
        cycle = nx.find_cycle(graph.subgraph(component))
        nodes = [edge[0] for edge in cycle] + [cycle[0][0]]
        start = names.topics[nodes[0]][-1]
        yield ContentError(start.file, start.name, "prerequisite cycle: " + " -> ".join(nodes))


ROADMAP_CHECKS: tuple[RoadmapCheck, ...] = (
    files_keep_their_rules,
    layer_numbers_are_unique,
    prerequisites_are_known,
    each("competency_levels", "level", LEVEL),
    unique("competency_levels", "level", "duplicate level {}"),
    each("artifacts", "code", ARTIFACT),
    unique("artifacts", "code", "duplicate artifact code {!r}"),
    unique("artifacts", "slug", "duplicate artifact slug {!r}"),
    gate_artifacts_are_known,
    each("checklists", "slug", CHECKLIST),
    unique("checklists", "slug", "duplicate checklist slug {!r}"),
    each("learning_paths", "slug", PATH),
    unique("learning_paths", "slug", "duplicate learning path slug {!r}"),
    each("resources", "title", RESOURCE),
    unique("resources", "url", "duplicate resource url {!r}"),
    prerequisites_have_no_cycle,
)


# --- helpers -------------------------------------------------------------------------------


def _earlier(entry: Entry, places: dict[str, list[Entry]]) -> Entry | None:
    """The entry before this one that uses the same slug, if any."""
    slug = entry.data.get("slug")
    if not isinstance(slug, str):
        return None
    seen = places[slug]
    k = seen.index(entry)
    return seen[k - 1] if k else None


def _unknown(entry: Entry, field: str, label: str, known: Container[str], what: str) -> Iterator[ContentError]:
    for value in entry.data.get(field) or []:
        if isinstance(value, str) and value not in known:
            yield ContentError(entry.file, entry.name, f"{label} {value!r} names no {what} in this roadmap")


def _duplicates(values: Iterable[Any]) -> set[Any]:
    return {v for v, n in Counter(values).items() if n > 1 and v is not None}
