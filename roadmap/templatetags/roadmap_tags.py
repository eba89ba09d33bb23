from __future__ import annotations

from collections.abc import Iterable, Mapping, Set

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
    *,
    focus: int | None = None,
    matches: Set[int] | None = None,
    panel_url: str = "",
) -> SafeString:
    """The roadmap's prerequisite graph (roadmap/graph.py's render_svg says what focus, matches and
    panel_url do).

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
    svg = render_svg(
        lanes,
        nodes,
        statuses=statuses,
        title=f"Topic graph of {roadmap.title}",
        focus=focus,
        matches=matches,
        panel_url=panel_url,
    )
    return mark_safe(svg)  # noqa: S308 - every text is escaped by render_svg


@register.filter
def markdown(source: str) -> SafeString:
    return render_markdown(source or "")


@register.filter
def status_of(statuses: Mapping[int, str] | None, topic: Topic) -> str:
    """A topic's status from the `topic_statuses` an overlay supplied; not_started without one."""
    return (statuses or {}).get(topic.pk, "not_started") if isinstance(statuses, Mapping) else "not_started"


@register.filter
def slug_in(url: str, slug: str) -> str:
    """A side-panel link (the view's panel_url, with `__slug__` in it) for one topic."""
    return url.replace("__slug__", slug)


@register.filter
def status_word(status: str) -> str:
    return status.replace("_", " ")
