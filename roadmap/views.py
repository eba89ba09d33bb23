"""Public catalogue pages: anyone may read the roadmaps."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db.models import Prefetch
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from accounts.http import Request
from roadmap.content.read import templates_dir
from roadmap.forms import TopicFinderForm
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
    return render(request, "roadmap/roadmap_list.html", with_overlays(request, "roadmaps", {"roadmaps": roadmaps}))


def _focus(roadmap: Roadmap, slug: str | None) -> dict[str, Any]:
    """The topic open in the roadmap page's side panel (?topic=slug), with what the panel lists."""
    if not slug:
        return {"focus": None}
    topic = get_object_or_404(roadmap.topics.current().select_related("layer", "roadmap"), slug=slug)
    return {
        "focus": topic,
        "focus_prerequisites": topic.prerequisites.current().select_related("roadmap", "layer"),
        "focus_unlocks": topic.unlocks.current().select_related("roadmap", "layer"),
        "focus_resources": topic.resources.current(),
    }


def _panel_url(request: Request, roadmap: Roadmap) -> str:
    """Each graph box's link: this page with the topic in the panel, keeping the search and filters."""
    query = request.GET.copy()
    query.pop("topic", None)
    query["topic"] = "__slug__"
    return f"{roadmap.get_absolute_url()}?{query.urlencode(safe='_')}#topic-panel"


@login_not_required
@require_GET
def roadmap_detail(request: Request, slug: str) -> HttpResponse:
    """The roadmap, its topic graph with search and filters, and a side panel for one topic: one URL
    for the page and, for htmx, the panel alone."""
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
        "panel_url": _panel_url(request, roadmap),
        **_focus(roadmap, request.GET.get("topic")),
    }
    context = with_overlays(request, "roadmap", context)
    finder = TopicFinderForm(request.GET, layers=layers, statuses=context.get("topic_status_choices", ()))
    context["finder"] = finder
    context["matches"] = finder.matching(context["topics"], layers, context.get("topic_statuses") or {})
    if request.htmx:
        return render(request, "roadmap/roadmap_detail.html#topic-panel", context)
    return render(request, "roadmap/roadmap_detail.html", context, status=400 if finder.errors else 200)


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
def artifact_template(request: Request, roadmap_slug: str, code: str, name: str) -> FileResponse:
    """One of the Markdown templates a spec offers, as a download. Any other name is a 404, so no
    file outside fixtures/templates (or in it but not offered) can be reached."""
    roadmap = _roadmap(roadmap_slug)
    spec = get_object_or_404(roadmap.artifact_specs.current(), code=code)
    offered = spec.template_file(name)
    folder = templates_dir(settings.CONTENT_DIR).resolve()
    file = (folder / offered).resolve() if offered else None
    if file is None or file.parent != folder or not file.is_file():
        raise Http404("No such template.")
    response = FileResponse(file.open("rb"), as_attachment=True, filename=file.name)
    response["Content-Type"] = "text/markdown; charset=utf-8"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_not_required
@require_GET
def level_list(request: Request, roadmap_slug: str) -> HttpResponse:
    roadmap = _roadmap(roadmap_slug)
    levels = roadmap.levels.current().prefetch_related("gates__layer__roadmap")
    layers = {layer.slug: layer for layer in roadmap.layers.current().select_related("roadmap")}
    checked = [(level, level.checked_abilities(layers)) for level in levels]
    return render(request, "roadmap/level_list.html", {"roadmap": roadmap, "levels": checked})


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
    outside = path.outside_prerequisites.current().select_related("roadmap", "layer")
    context = {"roadmap": roadmap, "path": path, "steps": steps, "outside": outside}
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
