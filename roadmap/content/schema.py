"""The fields each entry of the content files may have, and the check that an entry keeps to them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from roadmap.content.errors import ContentError
from roadmap.models import ArtifactSpec, Layer, Resource


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
    known = ", ".join(spec)
    problems = [f"unknown field '{name}' (known fields: {known})" for name in data if name not in spec]
    for name, f in spec.items():
        problems += _field_problems(name, f, data.get(name))
    return [ContentError(file, entry, problem) for problem in problems]


def _field_problems(name: str, f: F, value: Any) -> list[str]:
    if value is None or value == "" or value == []:
        return [f"missing required field '{name}'"] if f.required else []
    # bool is an int in Python; a number field given `true` is still wrong.
    if not isinstance(value, f.kind) or (f.kind is INT and isinstance(value, bool)):
        return [f"field '{name}' must be {_type_name(f.kind)}, not {value!r}"]
    problems = []
    if f.choices and value not in f.choices:
        problems.append(f"field '{name}' is {value!r}; choose one of: {', '.join(f.choices)}")
    if f.items is not None and isinstance(value, list):
        problems += [
            f"{name}[{i}] must be {_type_name(f.items)}, not {item!r}"
            for i, item in enumerate(value)
            if not isinstance(item, f.items)
        ]
    return problems
