from __future__ import annotations

from collections.abc import Iterable, Mapping

from django import template
from django.urls import reverse
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
    prerequisites: Iterable[tuple[int, int]] | None = None,
) -> SafeString:
    """The roadmap's prerequisite graph.

    `prerequisites` holds (topic pk, prerequisite pk) pairs (TopicQuerySet.prerequisite_pairs);
    without it, topics must have their prerequisites prefetched.
    """
    lanes = [GraphLane(layer.pk, layer.label, layer.title, layer.get_absolute_url()) for layer in layers]
    before: dict[int, list[int]] = {}
    for topic_pk, pre_pk in prerequisites or ():
        before.setdefault(topic_pk, []).append(pre_pk)
    # One reverse() for the roadmap instead of one per topic: a roadmap page draws 170 of them.
    url = reverse("roadmap:topic-detail", args=[roadmap.slug, "__slug__"])
    nodes = [
        GraphTopic(
            pk=t.pk,
            slug=t.slug,
            title=t.title,
            url=url.replace("__slug__", t.slug),
            layer_pk=t.layer_id,
            order=t.order,
            prerequisites=tuple(before.get(t.pk, ()))
            if prerequisites is not None
            else tuple(p.pk for p in t.prerequisites.all()),
        )
        for t in topics
    ]
    return mark_safe(render_svg(lanes, nodes, statuses=statuses, title=f"Topic graph of {roadmap.title}"))  # noqa: S308 - every text is escaped by render_svg


@register.filter
def markdown(source: str) -> SafeString:
    return render_markdown(source or "")
