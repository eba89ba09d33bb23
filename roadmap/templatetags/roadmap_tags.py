from __future__ import annotations

from collections.abc import Iterable, Mapping

from django import template
from django.utils.safestring import SafeString, mark_safe

from roadmap.graph import GraphLane, GraphTopic, render_svg
from roadmap.markdown import render_markdown
from roadmap.models import Layer, Roadmap, Topic

register = template.Library()


@register.simple_tag
def topic_graph(
    roadmap: Roadmap,
    layers: Iterable[Layer],
    topics: Iterable[Topic],
    statuses: Mapping[int, str] | None = None,
) -> SafeString:
    """The roadmap's prerequisite graph; topics must have their prerequisites prefetched."""
    lanes = [GraphLane(layer.pk, layer.label, layer.title, layer.get_absolute_url()) for layer in layers]
    nodes = [
        GraphTopic(
            pk=t.pk,
            slug=t.slug,
            title=t.title,
            url=t.get_absolute_url(),
            layer_pk=t.layer_id,
            order=t.order,
            prerequisites=tuple(p.pk for p in t.prerequisites.all()),
        )
        for t in topics
    ]
    return mark_safe(render_svg(lanes, nodes, statuses=statuses, title=f"Topic graph of {roadmap.title}"))  # noqa: S308 - every text is escaped by render_svg


@register.filter
def markdown(source: str) -> SafeString:
    return render_markdown(source or "")
