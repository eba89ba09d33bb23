"""Read API for the catalogue: public, no token needed."""

from __future__ import annotations

from typing import Annotated

from django.db.models import Prefetch
from django.http import Http404, HttpRequest
from ninja import Router, Schema

from accounts.api import choices
from roadmap.models import (
    ArtifactSpec,
    CompetencyLevel,
    EvaluationGate,
    Layer,
    PathStep,
    Roadmap,
    Topic,
)

router = Router(tags=["roadmaps"])


class SourceOut(Schema):
    title: str
    url: str


class RoadmapSummaryOut(Schema):
    slug: str
    title: str
    summary: str
    source: SourceOut
    content_version: str
    layer_count: int
    topic_count: int


class TopicOut(Schema):
    slug: str
    title: str
    summary: str
    prerequisites: list[str]


class GateOut(Schema):
    statement: str
    criteria: list[str]
    required_artifacts: list[str]
    level: int | None


class LayerOut(Schema):
    number: int
    code: str
    slug: str
    title: str
    kind: Annotated[Layer.Kind, choices(Layer.Kind)]
    core_question: str
    objective: str
    gate: GateOut | None
    topics: list[TopicOut]


class ArtifactSpecOut(Schema):
    code: str
    slug: str
    title: str
    purpose: str
    kind: Annotated[ArtifactSpec.Kind, choices(ArtifactSpec.Kind)]
    runnable: bool
    layers: list[str]


class LevelOut(Schema):
    level: int
    title: str
    summary: str
    abilities: list[str]
    limit: str
    gates: list[str]


class PathOut(Schema):
    slug: str
    title: str
    summary: str
    estimated_time: str
    after: str | None
    topics: list[str]


class RoadmapOut(Schema):
    slug: str
    title: str
    summary: str
    source: SourceOut
    content_version: str
    layers: list[LayerOut]
    artifacts: list[ArtifactSpecOut]
    competency_levels: list[LevelOut]
    learning_paths: list[PathOut]


class MessageOut(Schema):
    message: str


def _source(roadmap: Roadmap) -> SourceOut:
    return SourceOut(title=roadmap.source_title, url=roadmap.source_url)


@router.get("", response=list[RoadmapSummaryOut], auth=None, summary="List roadmaps")
def list_roadmaps(request: HttpRequest) -> list[RoadmapSummaryOut]:
    roadmaps = Roadmap.objects.current().with_counts()
    return [
        RoadmapSummaryOut(
            slug=r.slug,
            title=r.title,
            summary=r.summary,
            source=_source(r),
            content_version=r.content_version,
            layer_count=r.layer_count,  # type: ignore[attr-defined]
            topic_count=r.topic_count,  # type: ignore[attr-defined]
        )
        for r in roadmaps
    ]


@router.get(
    "/{slug}",
    response={200: RoadmapOut, 404: MessageOut},
    auth=None,
    summary="A roadmap with its layers, topics, gates, artifacts, levels and paths",
)
def get_roadmap(request: HttpRequest, slug: str) -> RoadmapOut:
    roadmap = Roadmap.objects.current().filter(slug=slug).first()
    if roadmap is None:
        raise Http404(f"No roadmap with slug {slug!r}. GET /api/v1/roadmaps lists them.")
    current_topics = Topic.objects.current()
    layers = roadmap.layers.current().prefetch_related(
        Prefetch(
            "topics",
            queryset=current_topics.prefetch_related(Prefetch("prerequisites", queryset=current_topics.only("slug"))),
        ),
        Prefetch(
            "gate",
            queryset=EvaluationGate.objects.current()
            .select_related("level")
            .prefetch_related(
                Prefetch(
                    "required_artifacts",
                    queryset=ArtifactSpec.objects.current().only("code"),
                )
            ),
        ),
    )
    levels = roadmap.levels.current().prefetch_related(
        Prefetch("gates", queryset=EvaluationGate.objects.current().select_related("layer"))
    )
    artifacts = roadmap.artifact_specs.current().prefetch_related(
        Prefetch("layers", queryset=Layer.objects.current().only("slug"))
    )
    paths = (
        roadmap.paths.current()
        .select_related("after")
        .prefetch_related(
            Prefetch(
                "steps",
                queryset=PathStep.objects.filter(topic__retired=False)
                .select_related("topic")
                .only("order", "path_id", "topic__slug"),
            )
        )
    )
    return RoadmapOut(
        slug=roadmap.slug,
        title=roadmap.title,
        summary=roadmap.summary,
        source=_source(roadmap),
        content_version=roadmap.content_version,
        layers=[_layer(layer) for layer in layers],
        artifacts=[
            ArtifactSpecOut(
                code=a.code,
                slug=a.slug,
                title=a.title,
                purpose=a.purpose,
                kind=a.kind,
                runnable=a.is_runnable,
                layers=[layer.slug for layer in a.layers.all()],
            )
            for a in artifacts
        ],
        competency_levels=[_level(level) for level in levels],
        learning_paths=[
            PathOut(
                slug=p.slug,
                title=p.title,
                summary=p.summary,
                estimated_time=p.estimated_time,
                after=p.after.slug if p.after else None,
                topics=[s.topic.slug for s in p.steps.all()],
            )
            for p in paths
        ],
    )


def _layer(layer: Layer) -> LayerOut:
    gate = layer.current_gate
    return LayerOut(
        number=layer.number,
        code=layer.code,
        slug=layer.slug,
        title=layer.title,
        kind=layer.kind,
        core_question=layer.core_question,
        objective=layer.objective,
        gate=GateOut(
            statement=gate.statement,
            criteria=gate.criteria,
            required_artifacts=[a.code for a in gate.required_artifacts.all()],
            level=gate.level.number if gate.level else None,
        )
        if gate is not None
        else None,
        topics=[
            TopicOut(
                slug=t.slug,
                title=t.title,
                summary=t.summary,
                prerequisites=[p.slug for p in t.prerequisites.all()],
            )
            for t in layer.topics.all()
        ],
    )


def _level(level: CompetencyLevel) -> LevelOut:
    return LevelOut(
        level=level.number,
        title=level.title,
        summary=level.summary,
        abilities=level.abilities,
        limit=level.limit,
        gates=[g.layer.slug for g in level.gates.all()],
    )
