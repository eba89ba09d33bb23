from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

import networkx as nx
import yaml
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext

from roadmap.content import ContentInvalid, load, read_sources, validate
from roadmap.graph import prerequisite_graph
from roadmap.models import (
    ArtifactSpec,
    EvaluationGate,
    Layer,
    LearningPath,
    Roadmap,
    Topic,
)


def roadmap_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "slug": "tiny",
        "title": "Tiny roadmap",
        "summary": "Two layers for tests.",
        "source": {"title": "seed", "url": "https://example.com/seed"},
        "competency_levels": [
            {"level": 0, "title": "Starter"},
            {"level": 1, "title": "Basics", "gates": ["basics"]},
        ],
        "artifacts": [
            {
                "code": "01",
                "slug": "notes",
                "title": "Notes",
                "purpose": "Write it down",
                "kind": "document",
                "layers": ["basics"],
            },
        ],
        "learning_paths": [
            {"slug": "start", "title": "Start", "topics": ["alpha", "beta"]},
            {"slug": "rest", "title": "The rest", "after": "start", "remaining": True},
        ],
    }
    data.update(overrides)
    return data


def layer_data(number: int, slug: str, topics: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    data = {
        "number": number,
        "slug": slug,
        "title": slug.title(),
        "kind": "core_layer",
        "core_question": "Why?",
        "summary": "A layer.",
        "gate": {
            "statement": "Show it.",
            "criteria": ["one", "two"],
            "artifacts": ["01"],
        },
        "topics": topics,
    }
    data.update(overrides)
    return data


def topic(slug: str, *prerequisites: str, **fields: Any) -> dict[str, Any]:
    return {
        "slug": slug,
        "title": slug.title(),
        "summary": f"About {slug}.",
        "prerequisites": list(prerequisites),
        **fields,
    }


class ContentDir:
    """A throwaway fixtures/roadmaps folder with one roadmap, written from dicts."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self.root = Path(self._tmp.name) / "roadmaps"
        self.write(
            roadmap_data(),
            [
                layer_data(1, "basics", [topic("alpha"), topic("beta", "alpha")]),
                layer_data(
                    2,
                    "more",
                    [topic("gamma", "beta"), topic("delta", "gamma", "alpha")],
                    gate=None,
                    kind="tier",
                ),
            ],
        )

    def write(self, roadmap: dict[str, Any], layers: list[dict[str, Any]]) -> None:
        """Without a `resources` key, one resource covers every topic (every topic needs one)."""
        if "resources" not in roadmap:
            slugs = [t["slug"] for layer in layers for t in layer["topics"] if isinstance(t, dict) and "slug" in t]
            guide = {"title": "The guide", "url": "https://example.com/guide", "kind": "docs", "topics": slugs}
            roadmap = {**roadmap, "resources": [guide]}
        folder = self.root / roadmap["slug"]
        (folder / "layers").mkdir(parents=True, exist_ok=True)
        for old in (folder / "layers").glob("*.yaml"):
            old.unlink()
        (folder / "roadmap.yaml").write_text(yaml.safe_dump(roadmap, sort_keys=False))
        for layer in layers:
            name = f"{str(layer['number']).zfill(2)}-{layer['slug']}.yaml"
            (folder / "layers" / name).write_text(
                yaml.safe_dump({k: v for k, v in layer.items() if v is not None}, sort_keys=False)
            )

    def cleanup(self) -> None:
        self._tmp.cleanup()


class LoaderTests(TestCase):
    def setUp(self) -> None:
        self.content = ContentDir()
        self.addCleanup(self.content.cleanup)

    def errors_for(self, roadmap: dict[str, Any], layers: list[dict[str, Any]]) -> list[str]:
        self.content.write(roadmap, layers)
        with self.assertRaises(ContentInvalid) as ctx:
            load(self.content.root)
        return [str(e) for e in ctx.exception.errors]

    def test_it_creates_every_kind_of_row(self):
        load(self.content.root)

        roadmap = Roadmap.objects.get(slug="tiny")
        assert list(roadmap.layers.values_list("slug", flat=True)) == ["basics", "more"]
        assert Topic.objects.get(slug="delta").prerequisites.count() == 2
        gate = EvaluationGate.objects.get(layer__slug="basics")
        assert gate.level is not None and gate.level.number == 1
        assert list(gate.required_artifacts.values_list("code", flat=True)) == ["01"]
        rest = LearningPath.objects.get(slug="rest")
        assert rest.after == LearningPath.objects.get(slug="start")
        assert list(rest.steps.values_list("topic__slug", flat=True)) == [
            "gamma",
            "delta",
        ]
        assert len(roadmap.content_version) == 64

    def test_loading_twice_writes_nothing(self):
        load(self.content.root)
        version = Roadmap.objects.get().content_version

        with CaptureQueriesContext(connection) as queries:
            reports = load(self.content.root)

        writes = [q["sql"] for q in queries if q["sql"].split()[0].upper() in ("INSERT", "UPDATE", "DELETE")]
        assert writes == []
        assert not any(r.changed for r in reports)
        assert Roadmap.objects.get().content_version == version

    def test_a_removed_topic_is_retired_and_kept(self):
        load(self.content.root)
        delta = Topic.objects.get(slug="delta")
        self.content.write(
            roadmap_data(),
            [
                layer_data(1, "basics", [topic("alpha"), topic("beta", "alpha")]),
                layer_data(2, "more", [topic("gamma", "beta")], gate=None, kind="tier"),
            ],
        )

        load(self.content.root)

        delta.refresh_from_db()
        assert delta.retired
        assert list(Topic.objects.current().values_list("slug", flat=True)) == [
            "alpha",
            "beta",
            "gamma",
        ]

    def test_renaming_and_moving_a_topic_keeps_its_row(self):
        load(self.content.root)
        beta = Topic.objects.get(slug="beta")
        self.content.write(
            roadmap_data(),
            [
                layer_data(1, "basics", [topic("alpha")]),
                layer_data(
                    2,
                    "more",
                    [
                        topic("beta", "alpha", title="Beta, renamed"),
                        topic("gamma", "beta"),
                        topic("delta", "gamma"),
                    ],
                    gate=None,
                    kind="tier",
                ),
            ],
        )

        load(self.content.root)

        moved = Topic.objects.get(slug="beta")
        assert moved.pk == beta.pk
        assert moved.title == "Beta, renamed"
        assert moved.layer.slug == "more"
        assert not moved.retired

    def test_a_retired_topic_comes_back_when_it_reappears(self):
        load(self.content.root)
        Topic.objects.filter(slug="delta").update(retired=True)

        load(self.content.root)

        assert not Topic.objects.get(slug="delta").retired

    def test_an_unknown_prerequisite_names_file_and_entry(self):
        errors = self.errors_for(roadmap_data(), [layer_data(1, "basics", [topic("alpha", "omega")])])

        assert any(
            "01-basics.yaml: topics[0] (slug 'alpha'): prerequisite 'omega' names no topic" in e for e in errors
        ), errors

    def test_a_duplicate_topic_slug_is_refused(self):
        errors = self.errors_for(
            roadmap_data(learning_paths=[]),
            [
                layer_data(1, "basics", [topic("alpha")]),
                layer_data(2, "more", [topic("alpha")], gate=None, kind="tier"),
            ],
        )

        assert any("02-more.yaml: topics[0] (slug 'alpha'): duplicate topic slug (also in" in e for e in errors), errors

    def test_a_cycle_is_reported_with_its_nodes(self):
        errors = self.errors_for(
            roadmap_data(learning_paths=[]),
            [
                layer_data(
                    1,
                    "basics",
                    [
                        topic("alpha", "gamma"),
                        topic("beta", "alpha"),
                        topic("gamma", "beta"),
                    ],
                )
            ],
        )

        cycle = [e for e in errors if "prerequisite cycle" in e]
        assert len(cycle) == 1, errors
        for node in ("alpha", "beta", "gamma"):
            assert node in cycle[0]

    def test_a_missing_required_field_is_named(self):
        broken = topic("alpha")
        del broken["summary"]
        errors = self.errors_for(roadmap_data(learning_paths=[]), [layer_data(1, "basics", [broken])])

        assert any("topics[0] (slug 'alpha'): missing required field 'summary'" in e for e in errors), errors

    def test_unknown_fields_wrong_types_and_choices_are_named(self):
        errors = self.errors_for(
            roadmap_data(learning_paths=[], colour="blue"),
            [layer_data("one", "basics", [topic("alpha")], kind="chapter")],  # type: ignore[arg-type]
        )

        assert any("unknown field 'colour'" in e for e in errors), errors
        assert any("field 'number' must be a whole number" in e for e in errors), errors
        assert any("field 'kind' is 'chapter'; choose one of" in e for e in errors), errors

    def test_a_core_layer_needs_a_gate(self):
        errors = self.errors_for(
            roadmap_data(competency_levels=[], learning_paths=[]),
            [layer_data(1, "basics", [topic("alpha")], gate=None)],
        )

        assert any("missing required field 'gate' (required for a core_layer)" in e for e in errors), errors

    def test_gates_and_artifacts_must_exist(self):
        errors = self.errors_for(
            roadmap_data(
                competency_levels=[{"level": 1, "title": "One", "gates": ["nowhere"]}],
                learning_paths=[],
            ),
            [
                layer_data(
                    1,
                    "basics",
                    [topic("alpha")],
                    gate={"statement": "x", "artifacts": ["99"]},
                )
            ],
        )

        assert any("gate 'nowhere' names no layer" in e for e in errors), errors
        assert any("gate: artifact '99' names no artifact" in e for e in errors), errors

    def test_invalid_yaml_names_the_line(self):
        (self.content.root / "tiny" / "layers" / "01-basics.yaml").write_text("number: 1\ntopics: [unclosed\n")

        with self.assertRaises(ContentInvalid) as ctx:
            load(self.content.root)

        assert any("01-basics.yaml" in str(e) and "not valid YAML" in str(e) for e in ctx.exception.errors)

    def test_nothing_is_written_when_any_file_is_invalid(self):
        self.content.write(
            roadmap_data(slug="other", learning_paths=[]),
            [layer_data(1, "basics", [topic("alpha", "missing")])],
        )

        with self.assertRaises(ContentInvalid):
            load(self.content.root)

        assert Roadmap.objects.count() == 0
        assert Topic.objects.count() == 0

    def test_the_command_reports_errors_and_fails(self):
        self.content.write(
            roadmap_data(learning_paths=[]),
            [layer_data(1, "basics", [topic("alpha", "omega")])],
        )

        with self.assertRaisesMessage(CommandError, "content error(s); nothing was written"):
            call_command(
                "load_roadmaps",
                dir=self.content.root,
                stderr=io.StringIO(),
                stdout=io.StringIO(),
            )


class RealContentTests(TestCase):
    """The roadmaps Layerwise ships."""

    @classmethod
    def setUpTestData(cls):
        load(settings.CONTENT_DIR)

    def test_the_shipped_content_is_valid(self):
        sources, errors = read_sources(settings.CONTENT_DIR)
        errors += validate(sources)

        assert errors == []
        assert {s.slug for s in sources} == {
            "llm-systems-engineering",
            "ai-systems-engineering",
            "systems-infrastructure",
            "model-systems-engineer",
        }

    def test_every_prerequisite_graph_is_acyclic(self):
        for roadmap in Roadmap.objects.all():
            topics = Topic.objects.filter(roadmap=roadmap).prefetch_related("prerequisites")
            graph = prerequisite_graph((t.slug, [p.slug for p in t.prerequisites.all()]) for t in topics)
            assert nx.is_directed_acyclic_graph(graph), roadmap.slug

    def test_the_primary_roadmap_is_complete(self):
        roadmap = Roadmap.objects.get(slug="llm-systems-engineering")
        core = roadmap.layers.filter(kind=Layer.Kind.CORE_LAYER).order_by("number")
        assert list(core.values_list("number", flat=True)) == list(range(1, 13))
        assert all(EvaluationGate.objects.filter(layer=layer).exists() for layer in core)
        assert roadmap.layers.filter(kind=Layer.Kind.ADVANCED_TRACK).count() == 5
        assert list(roadmap.levels.values_list("number", flat=True)) == list(range(7))
        codes = list(roadmap.artifact_specs.values_list("code", flat=True))
        assert codes == [f"{n:02d}" for n in range(1, 18)]
        assert ArtifactSpec.objects.get(roadmap=roadmap, code="09").kind == ArtifactSpec.Kind.KV_CALCULATOR
        assert ArtifactSpec.objects.get(roadmap=roadmap, code="07").kind == ArtifactSpec.Kind.INFERENCE_BENCHMARK
        assert ArtifactSpec.objects.get(roadmap=roadmap, code="10").kind == ArtifactSpec.Kind.QUANTIZER
        assert roadmap.checklists.count() == 6
        assert roadmap.topics.count() >= 120

    def test_the_shipped_content_loads_twice_without_changes(self):
        reports = load(settings.CONTENT_DIR)

        assert [str(r) for r in reports if r.changed] == []

    def test_the_api_serves_the_primary_roadmap_in_full(self):
        data = self.client.get("/api/v1/roadmaps/llm-systems-engineering").json()

        core = [layer for layer in data["layers"] if layer["kind"] == "core_layer"]
        tracks = [layer for layer in data["layers"] if layer["kind"] == "advanced_track"]
        assert [layer["number"] for layer in core] == list(range(1, 13))
        assert all(layer["gate"] and layer["gate"]["criteria"] for layer in core)
        assert [layer["code"] for layer in tracks] == ["A", "B", "C", "D", "E"]
        assert len(data["artifacts"]) == 17
        assert [level["level"] for level in data["competency_levels"]] == list(range(7))
        slugs = {t["slug"] for layer in data["layers"] for t in layer["topics"]}
        graph = prerequisite_graph((t["slug"], t["prerequisites"]) for layer in data["layers"] for t in layer["topics"])
        assert set(graph.nodes) == slugs
        assert nx.is_directed_acyclic_graph(graph)
