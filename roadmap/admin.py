from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin

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


class LinesField(forms.CharField):
    """Edit a JSON list of strings as one item per line."""

    widget = forms.Textarea(attrs={"rows": 6})

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, list):
            return "\n".join(str(v) for v in value)
        return super().prepare_value(value)

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        return [line.strip() for line in text.splitlines() if line.strip()]


def lines_form(model: type, *names: str) -> type[forms.ModelForm]:
    fields = {name: LinesField(required=False) for name in names}
    meta = type("Meta", (), {"model": model, "fields": "__all__"})
    return type(f"{model.__name__}Form", (forms.ModelForm,), {**fields, "Meta": meta})


class ContentAdmin(admin.ModelAdmin):
    """Content is loaded from files; edits here are overwritten by the next load_roadmaps.

    Each admin lists its form's fields: fields inherited from the abstract curriculum models would
    otherwise come first.
    """

    list_filter = ("retired",)


@admin.register(Roadmap)
class RoadmapAdmin(ContentAdmin):
    list_display = ("title", "slug", "order", "short_version", "loaded_at", "retired")
    fields = (
        "slug",
        "title",
        "summary",
        "body",
        "source_title",
        "source_url",
        "order",
        "retired",
        "content_version",
        "loaded_at",
    )
    readonly_fields = ("content_version", "loaded_at")
    search_fields = ("title", "slug")


class TopicInline(admin.TabularInline):
    model = Topic
    fields = ("order", "slug", "title", "retired")
    extra = 0
    show_change_link = True


@admin.register(Layer)
class LayerAdmin(ContentAdmin):
    form = lines_form(Layer, "failure_modes", "decisions", "definition_of_done")
    fields = (
        "roadmap",
        "number",
        "code",
        "slug",
        "title",
        "kind",
        "core_question",
        "summary",
        "objective",
        "body",
        "implement",
        "exercises",
        "failure_modes",
        "decisions",
        "definition_of_done",
        "source_url",
        "retired",
    )
    list_display = ("__str__", "roadmap", "kind", "slug", "retired")
    list_filter = ("roadmap", "kind", "retired")
    search_fields = ("title", "slug")
    inlines = [TopicInline]


@admin.register(Topic)
class TopicAdmin(ContentAdmin):
    fields = ("roadmap", "layer", "slug", "title", "summary", "body", "order", "source_url", "prerequisites", "retired")
    list_display = ("title", "slug", "roadmap", "layer", "order", "retired")
    list_filter = ("roadmap", "retired")
    search_fields = ("title", "slug", "summary")
    filter_horizontal = ("prerequisites",)
    list_select_related = ("roadmap", "layer")


@admin.register(CompetencyLevel)
class CompetencyLevelAdmin(ContentAdmin):
    form = lines_form(CompetencyLevel, "abilities")
    fields = ("roadmap", "number", "title", "summary", "abilities", "limit", "retired")
    list_display = ("__str__", "roadmap", "retired")


@admin.register(ArtifactSpec)
class ArtifactSpecAdmin(ContentAdmin):
    fields = ("roadmap", "code", "slug", "title", "purpose", "description", "kind", "layers", "topics", "retired")
    list_display = ("code", "title", "kind", "roadmap", "retired")
    list_filter = ("roadmap", "kind", "retired")
    filter_horizontal = ("layers", "topics")
    search_fields = ("title", "code")


@admin.register(EvaluationGate)
class EvaluationGateAdmin(ContentAdmin):
    form = lines_form(EvaluationGate, "criteria")
    fields = ("layer", "statement", "criteria", "required_artifacts", "level", "retired")
    list_display = ("__str__", "level", "retired")
    filter_horizontal = ("required_artifacts",)
    list_select_related = ("layer", "layer__roadmap", "level")


class PathStepInline(admin.TabularInline):
    model = PathStep
    extra = 0
    autocomplete_fields = ("topic",)


@admin.register(LearningPath)
class LearningPathAdmin(ContentAdmin):
    fields = ("roadmap", "slug", "title", "summary", "estimated_time", "estimated_hours", "after", "order", "retired")
    list_display = ("title", "roadmap", "estimated_time", "after", "retired")
    inlines = [PathStepInline]


@admin.register(Checklist)
class ChecklistAdmin(ContentAdmin):
    form = lines_form(Checklist, "items")
    fields = ("roadmap", "slug", "title", "summary", "items", "layers", "order", "retired")
    list_display = ("title", "roadmap", "retired")
    filter_horizontal = ("layers",)


@admin.register(Resource)
class ResourceAdmin(ContentAdmin):
    fields = ("roadmap", "title", "url", "kind", "group", "layers", "topics", "order", "retired")
    list_display = ("title", "kind", "group", "roadmap", "retired")
    list_filter = ("roadmap", "kind", "retired")
    filter_horizontal = ("layers", "topics")
    search_fields = ("title", "url")
