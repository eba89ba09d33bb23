"""Public catalogue pages: anyone may read the roadmaps."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from accounts.http import Request
from roadmap.models import Layer, Roadmap, Topic
from roadmap.overlays import with_overlays


def _roadmap(slug: str) -> Roadmap:
    return get_object_or_404(Roadmap.objects.current(), slug=slug)


def _current_layers() -> Prefetch:
    """For artifact specs and checklists: their current layers, ready for links."""
    return Prefetch("layers", queryset=Layer.objects.current().select_related("roadmap"))


@login_not_required
@require_GET
def roadmap_list(request: Request) -> HttpResponse:
    roadmaps = Roadmap.objects.current().with_counts()
    return render(request, "roadmap/roadmap_list.html", {"roadmaps": roadmaps})


@login_not_required
@require_GET
def roadmap_detail(request: Request, slug: str) -> HttpResponse:
    roadmap = _roadmap(slug)
    layers = list(roadmap.layers.current().with_topic_count())
    topics = roadmap.topics.current()
    context = {
        "roadmap": roadmap,
        "layers": layers,
        "topics": list(topics),
        "prerequisites": topics.prerequisite_pairs(),
        "levels": roadmap.levels.current(),
        "paths": roadmap.paths.current().with_step_count(),
        "artifact_count": roadmap.artifact_specs.current().count(),
        "checklist_count": roadmap.checklists.current().count(),
    }
    return render(request, "roadmap/roadmap_detail.html", with_overlays(request, "roadmap", context))


@login_not_required
@require_GET
def layer_detail(request: Request, roadmap_slug: str, slug: str) -> HttpResponse:
    roadmap = _roadmap(roadmap_slug)
    layer = get_object_or_404(roadmap.layers.current().select_related("gate", "gate__level"), slug=slug)
    topics = layer.topics.current().prefetch_related(
        Prefetch("prerequisites", queryset=Topic.objects.current().select_related("roadmap"))
    )
    gate = layer.current_gate
    context = {
        "roadmap": roadmap,
        "layer": layer,
        "topics": topics,
        "gate": gate,
        "gate_artifacts": gate.required_artifacts.current() if gate else [],
        "artifacts": layer.artifact_specs.current(),
        "checklists": layer.checklists.current(),
        "resources": layer.resources.current(),
        "neighbours": roadmap.layers.current().filter(number__in=[layer.number - 1, layer.number + 1]),
    }
    return render(request, "roadmap/layer_detail.html", with_overlays(request, "layer", context))


@login_not_required
@require_GET
def topic_detail(request: Request, roadmap_slug: str, slug: str) -> HttpResponse:
    roadmap = _roadmap(roadmap_slug)
    topic = get_object_or_404(roadmap.topics.select_related("layer"), slug=slug)
    context = {
        "roadmap": roadmap,
        "topic": topic,
        "layer": topic.layer,
        "prerequisites": topic.prerequisites.current().select_related("roadmap", "layer"),
        "unlocks": topic.unlocks.current().select_related("roadmap", "layer"),
        "resources": topic.resources.current(),
        "artifacts": topic.artifact_specs.current(),
        "paths": topic.paths.current(),
    }
    return render(request, "roadmap/topic_detail.html", with_overlays(request, "topic", context))


@login_not_required
@require_GET
def artifact_list(request: Request, roadmap_slug: str) -> HttpResponse:
    roadmap = _roadmap(roadmap_slug)
    specs = roadmap.artifact_specs.current().prefetch_related(_current_layers())
    return render(request, "roadmap/artifact_list.html", {"roadmap": roadmap, "specs": specs})


@login_not_required
@require_GET
def artifact_detail(request: Request, roadmap_slug: str, code: str) -> HttpResponse:
    roadmap = _roadmap(roadmap_slug)
    spec = get_object_or_404(roadmap.artifact_specs.current(), code=code)
    context = {
        "roadmap": roadmap,
        "spec": spec,
        "layers": spec.layers.current().select_related("roadmap"),
        "topics": spec.topics.current().select_related("roadmap"),
        "gates": spec.gates.current().select_related("layer", "layer__roadmap"),
    }
    return render(request, "roadmap/artifact_detail.html", with_overlays(request, "artifact", context))


@login_not_required
@require_GET
def level_list(request: Request, roadmap_slug: str) -> HttpResponse:
    roadmap = _roadmap(roadmap_slug)
    levels = roadmap.levels.current().prefetch_related("gates__layer__roadmap")
    return render(request, "roadmap/level_list.html", {"roadmap": roadmap, "levels": levels})


@login_not_required
@require_GET
def path_list(request: Request, roadmap_slug: str) -> HttpResponse:
    roadmap = _roadmap(roadmap_slug)
    paths = roadmap.paths.current().select_related("after").with_step_count()
    return render(request, "roadmap/path_list.html", {"roadmap": roadmap, "paths": paths})


@login_not_required
@require_GET
def path_detail(request: Request, roadmap_slug: str, slug: str) -> HttpResponse:
    roadmap = _roadmap(roadmap_slug)
    path = get_object_or_404(roadmap.paths.current().select_related("after"), slug=slug)
    steps = path.steps.filter(topic__retired=False).select_related("topic", "topic__layer", "topic__roadmap")
    context = {"roadmap": roadmap, "path": path, "steps": steps}
    return render(request, "roadmap/path_detail.html", with_overlays(request, "path", context))


@login_not_required
@require_GET
def checklist_list(request: Request, roadmap_slug: str) -> HttpResponse:
    roadmap = _roadmap(roadmap_slug)
    checklists = roadmap.checklists.current().prefetch_related(_current_layers())
    return render(
        request,
        "roadmap/checklist_list.html",
        {"roadmap": roadmap, "checklists": checklists},
    )


@login_not_required
@require_GET
def resource_list(request: Request, roadmap_slug: str) -> HttpResponse:
    roadmap = _roadmap(roadmap_slug)
    resources = roadmap.resources.current()
    return render(
        request,
        "roadmap/resource_list.html",
        {"roadmap": roadmap, "resources": resources},
    )
