"""What a learner needs from the shipped content, read straight from the YAML files.

The loader checks that content is well formed; these tests check that it can be studied from:
every topic has a source to read, learning paths never ask for a topic before its
prerequisites, each competency level's abilities are checked by gates it requires, and the
primary roadmap's topics carry self-check questions. The loader enforces most of these rules too
(roadmap/content/validate.py); these read the YAML directly so that a failure names the content.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.test import SimpleTestCase

PRIMARY = "llm-systems-engineering"
SOURCES_NOTE = Path(settings.BASE_DIR) / "docs" / "content-sources.md"
TEMPLATES_DIR = Path(settings.BASE_DIR) / "fixtures" / "templates"


@dataclass
class Content:
    slug: str
    roadmap: dict[str, Any]
    layers: list[dict[str, Any]]
    extensions: dict[str, Any] = field(default_factory=dict)
    self_checks: dict[str, Any] = field(default_factory=dict)

    @property
    def topics(self) -> dict[str, dict[str, Any]]:
        return {t["slug"]: t for layer in self.layers for t in layer["topics"]}

    @property
    def layer_of(self) -> dict[str, dict[str, Any]]:
        return {t["slug"]: layer for layer in self.layers for t in layer["topics"]}

    def prerequisites(self, topic: str) -> list[str]:
        return list(self.topics[topic].get("prerequisites") or [])

    def gate_levels(self) -> dict[str, int]:
        """Layer slug -> the competency level its gate counts toward."""
        return {
            gate: level["level"]
            for level in self.roadmap.get("competency_levels") or []
            for gate in level.get("gates") or []
        }

    def path_steps(self) -> dict[str, list[str]]:
        """Each learning path's topics in order, expanded the way the loader expands them."""
        in_layer_order = [t["slug"] for layer in self.layers for t in layer["topics"]]
        listed: set[str] = set()
        steps: dict[str, list[str]] = {}
        for path in self.roadmap.get("learning_paths") or []:
            topics = list(path.get("topics") or [])
            if path.get("remaining"):
                topics += [s for s in in_layer_order if s not in listed and s not in topics]
            listed.update(topics)
            steps[path["slug"]] = topics
        return steps

    def paths_before(self, slug: str) -> list[str]:
        """The paths a learner finishes before this one, following `after`."""
        by_slug = {p["slug"]: p for p in self.roadmap.get("learning_paths") or []}
        chain = []
        after = by_slug[slug].get("after")
        while after:
            chain.append(after)
            after = by_slug[after].get("after")
        return chain


def _read(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _folded(roadmap: dict[str, Any], layers: list[dict[str, Any]]) -> dict[str, Any]:
    """The fields that once lived in side files, gathered from where they now stand in the YAML."""
    return {
        "extensions": {
            "ability_gates": {
                lv["level"]: {a["ability"]: a.get("gate") for a in lv.get("abilities") or []}
                for lv in roadmap.get("competency_levels") or []
            },
            "outside_prerequisites": {
                p["slug"]: p["outside_prerequisites"]
                for p in roadmap.get("learning_paths") or []
                if p.get("outside_prerequisites")
            },
            "artifact_templates": {
                a["code"]: a["templates"] for a in roadmap.get("artifacts") or [] if a.get("templates")
            },
        },
        "self_checks": {t["slug"]: t["self_check"] for layer in layers for t in layer["topics"] if "self_check" in t},
    }


@cache
def shipped() -> tuple[Content, ...]:
    roadmaps = []
    for folder in sorted(p for p in Path(settings.CONTENT_DIR).iterdir() if p.is_dir()):
        layers = sorted((_read(f) for f in (folder / "layers").glob("*.yaml")), key=lambda d: d["number"])
        roadmap = _read(folder / "roadmap.yaml")
        roadmaps.append(Content(folder.name, roadmap, layers, **_folded(roadmap, layers)))
    return tuple(roadmaps)


def primary() -> Content:
    return next(c for c in shipped() if c.slug == PRIMARY)


class ResourceTests(SimpleTestCase):
    def test_every_topic_of_every_roadmap_has_a_resource(self):
        missing = {}
        for content in shipped():
            covered = {t for r in content.roadmap.get("resources") or [] for t in r.get("topics") or []}
            if gaps := sorted(set(content.topics) - covered):
                missing[content.slug] = gaps

        assert missing == {}, missing

    def test_every_resource_says_what_kind_it_is(self):
        untyped = [(c.slug, r["url"]) for c in shipped() for r in c.roadmap.get("resources") or [] if not r.get("kind")]

        assert untyped == []

    def test_every_resource_link_is_noted_with_the_search_that_found_it(self):
        note = SOURCES_NOTE.read_text(encoding="utf-8")
        unnoted = [
            (c.slug, r["url"]) for c in shipped() for r in c.roadmap.get("resources") or [] if r["url"] not in note
        ]

        assert unnoted == [], f"add these links to {SOURCES_NOTE.name}: {unnoted}"


class LearningPathTests(SimpleTestCase):
    def test_no_path_topic_comes_before_one_of_its_prerequisites(self):
        late = []
        for content in shipped():
            for path, steps in content.path_steps().items():
                position = {slug: i for i, slug in enumerate(steps)}
                for i, slug in enumerate(steps):
                    late += [
                        f"{content.slug}/{path}: {slug} before its prerequisite {pre}"
                        for pre in content.prerequisites(slug)
                        if position.get(pre, -1) > i
                    ]

        assert late == [], "\n".join(late)

    def test_every_path_contains_its_prerequisites_or_lists_the_outside_ones(self):
        problems = []
        for content in shipped():
            steps = content.path_steps()
            outside = content.extensions.get("outside_prerequisites") or {}
            for path, topics in steps.items():
                covered = set(topics).union(*(steps[p] for p in content.paths_before(path)))
                needed = {pre for slug in topics for pre in content.prerequisites(slug)} - covered
                listed = set(outside.get(path) or [])
                if needed - listed:
                    problems.append(f"{content.slug}/{path} needs, without listing them: {sorted(needed - listed)}")
                if listed - needed:
                    problems.append(
                        f"{content.slug}/{path} lists as outside but does not need: {sorted(listed - needed)}"
                    )

        assert problems == [], "\n".join(problems)

    def test_every_topic_outside_the_advanced_tracks_is_on_a_learning_path(self):
        stray = []
        for content in shipped():
            if not content.roadmap.get("learning_paths"):
                continue
            on_a_path = {slug for steps in content.path_steps().values() for slug in steps}
            stray += [
                f"{content.slug}: {slug}"
                for slug, layer in content.layer_of.items()
                if layer["kind"] != "advanced_track" and slug not in on_a_path
            ]

        assert stray == [], stray


class LevelTests(SimpleTestCase):
    def test_every_ability_a_level_lists_is_checked_by_a_gate_at_that_level_or_below(self):
        content = primary()
        gate_level = content.gate_levels()
        mapping = content.extensions.get("ability_gates") or {}
        problems = []
        for level in content.roadmap["competency_levels"]:
            number, abilities = level["level"], [a["ability"] for a in level.get("abilities") or []]
            gates = mapping.get(number) or {}
            if sorted(gates) != sorted(abilities):
                problems.append(f"level {number}: ability_gates lists {sorted(gates)}, the level {sorted(abilities)}")
            for ability in abilities:
                gate = gates.get(ability)
                if number == 0:
                    if gate is not None:
                        problems.append(f"level 0 needs no gate, but '{ability}' names {gate}")
                elif gate not in gate_level:
                    problems.append(f"level {number}: '{ability}' names {gate!r}, which counts toward no level")
                elif gate_level[gate] > number:
                    problems.append(
                        f"level {number}: '{ability}' is checked by {gate}, which counts toward level {gate_level[gate]}"
                    )

        assert problems == [], "\n".join(problems)

    def test_every_level_above_zero_adds_a_gate(self):
        levels = {lv["level"]: lv.get("gates") or [] for lv in primary().roadmap["competency_levels"]}

        assert [n for n, gates in levels.items() if n > 0 and not gates] == []

    def test_no_topic_needs_a_topic_whose_gate_counts_toward_a_higher_level(self):
        # Someone climbing the levels studies the gates' layers in level order; a prerequisite in a
        # higher level's layer (or in a track that counts toward no level) would block them.
        content = primary()
        gate_level = content.gate_levels()
        layer_of = content.layer_of
        problems = []
        for slug in content.topics:
            own = gate_level.get(layer_of[slug]["slug"])
            if own is None:
                continue
            for pre in content.prerequisites(slug):
                theirs = gate_level.get(layer_of[pre]["slug"])
                if theirs is None or theirs > own:
                    problems.append(f"{slug} (level {own}) needs {pre} (level {theirs})")

        assert problems == [], "\n".join(problems)


class SelfCheckTests(SimpleTestCase):
    def test_every_primary_topic_has_two_or_three_self_check_questions(self):
        content = primary()
        checks = content.self_checks
        problems = [
            f"{slug}: {len(checks.get(slug) or [])} questions"
            for slug in content.topics
            if not 2 <= len(checks.get(slug) or []) <= 3
        ]
        problems += [f"{slug}: names no topic" for slug in checks if slug not in content.topics]
        problems += [
            f"{slug}: {q!r} is not a question or task in a sentence"
            for slug, questions in checks.items()
            for q in questions or []
            if not isinstance(q, str) or len(q) < 20 or not q.strip().endswith(("?", "."))
        ]

        assert problems == [], "\n".join(problems)


class TemplateTests(SimpleTestCase):
    def test_every_artifact_template_exists_and_links_its_source(self):
        content = primary()
        codes = {a["code"] for a in content.roadmap["artifacts"]}
        templates = content.extensions.get("artifact_templates") or {}
        problems = [f"artifact {code}: no such artifact" for code in templates if code not in codes]
        for code, entries in templates.items():
            for entry in entries:
                file = TEMPLATES_DIR / entry["file"]
                if not file.is_file():
                    problems.append(f"artifact {code}: {file} is missing")
                elif content.roadmap["source"]["url"] not in file.read_text(encoding="utf-8"):
                    problems.append(f"artifact {code}: {file.name} does not link its source")

        assert len({e["file"] for entries in templates.values() for e in entries}) == 6
        assert problems == [], "\n".join(problems)
