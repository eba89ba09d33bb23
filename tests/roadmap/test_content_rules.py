"""The loader's content rules from issue 18: resources, path order, outside prerequisites, abilities
checked by gates, templates, self-checks; each refusal with a small fixture, then the real content."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.test import TestCase

from assessments.models import Status, TopicProgress
from roadmap.content import ContentInvalid, load, read_sources, validate
from roadmap.models import ArtifactSpec, CompetencyLevel, LearningPath, Resource, Topic
from tests.factories import create_user
from tests.roadmap.test_loader import ContentDir, layer_data, roadmap_data, topic


def tiny_layers(**alpha_fields: Any) -> list[dict[str, Any]]:
    return [
        layer_data(1, "basics", [topic("alpha", **alpha_fields), topic("beta", "alpha")]),
        layer_data(2, "more", [topic("gamma", "beta"), topic("delta", "gamma", "alpha")], gate=None, kind="tier"),
    ]


ABILITIES = [
    {"level": 0, "title": "Starter", "abilities": [{"ability": "reads", "gate": None}]},
    {"level": 1, "title": "Basics", "gates": ["basics"], "abilities": [{"ability": "writes", "gate": "basics"}]},
]
TEMPLATES = [{"title": "Notes template", "file": "notes.md"}]


def artifact(**fields: Any) -> dict[str, Any]:
    spec = {"code": "01", "slug": "notes", "title": "Notes", "purpose": "Write it down", "kind": "document"}
    return {**spec, "layers": ["basics"], **fields}


class ContentRuleTests(TestCase):
    def setUp(self) -> None:
        self.content = ContentDir()
        self.addCleanup(self.content.cleanup)
        templates = self.content.root.parent / "templates"
        templates.mkdir()
        (templates / "notes.md").write_text("# Notes\n")

    def errors_for(self, roadmap: dict[str, Any], layers: list[dict[str, Any]] | None = None) -> list[str]:
        self.content.write(roadmap, layers or tiny_layers())
        with self.assertRaises(ContentInvalid) as ctx:
            load(self.content.root)
        return [str(e) for e in ctx.exception.errors]

    def test_the_new_fields_are_loaded(self):
        paths = [
            {"slug": "start", "title": "Start", "topics": ["beta"], "outside_prerequisites": ["alpha"]},
            {"slug": "rest", "title": "The rest", "after": "start", "remaining": True},
        ]
        roadmap = roadmap_data(competency_levels=ABILITIES, artifacts=[artifact(templates=TEMPLATES)])
        roadmap["learning_paths"] = paths
        questions = ["Why does alpha come first?", "What breaks without alpha?"]
        self.content.write(roadmap, tiny_layers(self_check=questions))

        load(self.content.root)

        assert Topic.objects.get(slug="alpha").self_check == questions
        level = CompetencyLevel.objects.get(number=1)
        assert (level.abilities, level.ability_gates) == (["writes"], {"writes": "basics"})
        assert CompetencyLevel.objects.get(number=0).ability_gates == {"reads": None}
        assert ArtifactSpec.objects.get(code="01").templates == TEMPLATES
        start = LearningPath.objects.get(slug="start")
        assert [t.slug for t in start.outside_prerequisites.all()] == ["alpha"]
        assert [str(r) for r in load(self.content.root) if r.changed] == []

    def test_a_topic_without_a_resource_is_refused(self):
        guide = {"title": "Guide", "url": "https://example.com/g", "topics": ["alpha", "beta", "gamma"]}

        errors = self.errors_for(roadmap_data(resources=[guide]))

        assert errors == [
            f"{self.content.root}/tiny/layers/02-more.yaml: topics[1] (slug 'delta'): has no resource: "
            "list it in a resource's topics in roadmap.yaml"
        ]

    def test_video_and_code_are_resource_kinds(self):
        resources = [
            {"title": "Talk", "url": "https://example.com/talk", "kind": "video", "topics": ["alpha", "beta"]},
            {"title": "Repo", "url": "https://example.com/repo", "kind": "code", "topics": ["gamma", "delta"]},
        ]
        self.content.write(roadmap_data(resources=resources), tiny_layers())

        load(self.content.root)

        assert dict(Resource.objects.values_list("title", "kind")) == {"Talk": "video", "Repo": "code"}

    def test_a_path_topic_before_its_prerequisite_is_refused(self):
        roadmap = roadmap_data()
        roadmap["learning_paths"][0]["topics"] = ["beta", "alpha"]

        errors = self.errors_for(roadmap)

        assert errors == [
            f"{self.content.root}/tiny/roadmap.yaml: learning_paths[0] (slug 'start'): "
            "topic 'beta' comes before its prerequisite 'alpha'"
        ]

    def test_a_path_must_list_the_prerequisites_outside_it(self):
        roadmap = roadmap_data()
        roadmap["learning_paths"][0]["topics"] = ["beta"]

        errors = self.errors_for(roadmap)

        assert errors == [
            f"{self.content.root}/tiny/roadmap.yaml: learning_paths[0] (slug 'start'): "
            "needs topics outside it; list them in outside_prerequisites: alpha"
        ]

    def test_a_path_may_not_list_outside_prerequisites_it_does_not_need(self):
        roadmap = roadmap_data()
        roadmap["learning_paths"][0]["outside_prerequisites"] = ["gamma", "nope"]

        errors = self.errors_for(roadmap)

        where = f"{self.content.root}/tiny/roadmap.yaml: learning_paths[0] (slug 'start'): "
        assert errors == [
            where + "outside prerequisite 'nope' names no topic in this roadmap",
            where + "outside_prerequisites lists topics it does not need: gamma, nope",
        ]

    def test_an_ability_above_level_0_must_name_a_gate(self):
        levels = [ABILITIES[0], {**ABILITIES[1], "abilities": [{"ability": "writes"}]}]

        errors = self.errors_for(roadmap_data(competency_levels=levels))

        assert errors == [
            f"{self.content.root}/tiny/roadmap.yaml: competency_levels[1] (level 1) abilities[0]: "
            "names no gate; give the layer whose gate checks this ability"
        ]

    def test_an_ability_checked_by_a_higher_levels_gate_is_refused(self):
        layers = tiny_layers()
        layers[1] = layer_data(2, "more", layers[1]["topics"])
        levels = [
            ABILITIES[0],
            {**ABILITIES[1], "abilities": [{"ability": "writes", "gate": "more"}]},
            {"level": 2, "title": "More", "gates": ["more"], "abilities": [{"ability": "x", "gate": "basics"}]},
        ]

        errors = self.errors_for(roadmap_data(competency_levels=levels), layers)

        assert errors == [
            f"{self.content.root}/tiny/roadmap.yaml: competency_levels[1] (level 1) abilities[0]: "
            "the gate of 'more' counts toward level 2, above this level 1"
        ]

    def test_an_ability_checked_by_a_gate_of_no_level_is_refused(self):
        levels = [ABILITIES[0], {**ABILITIES[1], "abilities": [{"ability": "writes", "gate": "more", "x": 1}]}]

        errors = self.errors_for(roadmap_data(competency_levels=levels))

        where = f"{self.content.root}/tiny/roadmap.yaml: competency_levels[1] (level 1) abilities[0]: "
        assert errors == [
            where + "unknown field 'x' (known fields: ability, gate)",
            where + "gate 'more' counts toward no competency level",
        ]

    def test_a_template_file_must_be_a_markdown_file_in_the_templates_folder(self):
        templates = [
            {"title": "Missing", "file": "missing.md"},
            {"title": "Escape", "file": "../roadmaps/tiny/roadmap.yaml"},
            {"title": "No file"},
        ]

        errors = self.errors_for(roadmap_data(artifacts=[artifact(templates=templates)]))

        where = f"{self.content.root}/tiny/roadmap.yaml: artifacts[0] (code '01') templates"
        assert errors == [
            f"{where}[2]: missing required field 'file'",
            f"{where}[0]: file 'missing.md' is not in templates/",
            f"{where}[1]: file '../roadmaps/tiny/roadmap.yaml' must be a lowercase name ending in .md",
        ]

    def test_progress_survives_a_reload_that_changes_a_topics_edges(self):
        self.content.write(roadmap_data(), tiny_layers())
        load(self.content.root)
        user = create_user()
        delta = Topic.objects.get(slug="delta")
        TopicProgress.objects.create(user=user, topic=delta, status=Status.DONE, confidence=4)
        layers = tiny_layers()
        layers[1]["topics"][1] = topic("delta", "beta", self_check=["What does delta add to beta?"])
        self.content.write(roadmap_data(), layers)

        load(self.content.root)

        delta = Topic.objects.get(slug="delta")
        assert sorted(p.slug for p in delta.prerequisites.all()) == ["beta"]
        progress = TopicProgress.objects.get(user=user)
        assert (progress.topic_id, progress.status, progress.confidence) == (delta.pk, Status.DONE, 4)


class RealContentRuleTests(TestCase):
    """The shipped roadmaps keep the rules, and the folded-in data reaches the database."""

    @classmethod
    def setUpTestData(cls):
        load(settings.CONTENT_DIR)

    def test_the_shipped_content_breaks_none_of_the_rules(self):
        sources, errors = read_sources(settings.CONTENT_DIR)

        assert [str(e) for e in errors + validate(sources)] == []

    def test_every_topic_has_a_current_resource(self):
        assert list(Topic.objects.current().filter(resources__isnull=True).values_list("slug", flat=True)) == []

    def test_every_primary_topic_has_two_or_three_self_checks(self):
        topics = Topic.objects.filter(roadmap__slug="llm-systems-engineering")
        assert [t.slug for t in topics if not 2 <= len(t.self_check) <= 3] == []

    def test_every_primary_ability_above_level_0_names_a_gate(self):
        levels = CompetencyLevel.objects.filter(roadmap__slug="llm-systems-engineering", number__gt=0)
        assert [(lv.number, a) for lv in levels for a in lv.abilities if not lv.ability_gates.get(a)] == []

    def test_the_inference_path_lists_its_outside_prerequisites(self):
        path = LearningPath.objects.get(roadmap__slug="llm-systems-engineering", slug="inference-and-serving")
        assert "tokenization" in path.outside_prerequisites.values_list("slug", flat=True)

    def test_the_api_serves_the_folded_in_fields_and_template_links_that_download(self):
        data = self.client.get("/api/v1/roadmaps/llm-systems-engineering").json()

        topics = {t["slug"]: t for layer in data["layers"] for t in layer["topics"]}
        assert 2 <= len(topics["kv-cache"]["self_check"]) <= 3
        level3 = next(lv for lv in data["competency_levels"] if lv["level"] == 3)
        assert level3["ability_gates"]["estimates KV cache memory"] == "kv-cache-long-context"
        path = next(p for p in data["learning_paths"] if p["slug"] == "inference-and-serving")
        assert "tokenization" in path["outside_prerequisites"]
        cost = next(a for a in data["artifacts"] if a["code"] == "16")
        assert [t["file"] for t in cost["templates"]] == ["cost-model.md"]
        response = self.client.get(cost["templates"][0]["url"])
        assert response.status_code == 200
        assert response["Content-Disposition"] == 'attachment; filename="cost-model.md"'
