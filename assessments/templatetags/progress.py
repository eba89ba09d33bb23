"""A learner's progress in templates of this app: `{% load progress %}`. No tag here runs a query;
views prepare the rows (the roadmap pages' part in assessments/overlays.py)."""

from __future__ import annotations

from collections.abc import Mapping

from django import template
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from assessments.models import CONFIDENCE_WORDS, TopicState
from assessments.progress import Counts, Progress
from roadmap.models import Layer, Roadmap, Topic

register = template.Library()


@register.filter
def state_of(progress: Progress, topic: Topic) -> TopicState:
    return progress.state(topic.pk)


@register.filter
def layer_counts(progress: Progress, layer: Layer) -> Counts:
    return progress.layer(layer.pk)


@register.simple_tag(takes_context=True)
def status_form(
    context: template.Context,
    topic: Topic,
    roadmap: Roadmap,
    state: TopicState,
    *,
    compact: bool = False,
    refresh: str = "",
    next: str = "",  # noqa: A002 - the name of the form field
) -> SafeString:
    """One topic's status and confidence, set with one click: a form that works without JavaScript.

    A pressed button sends the value that clears it, so every button is a toggle. `refresh` names
    the progress summaries on the page ("layer", "roadmap"), which the answer then carries out of
    band; `next` is where a POST without htmx returns. Built here rather than in a template because
    a checklist page draws one per topic, and this is ten times faster.
    """
    url = reverse("assessments:progress-update", args=[roadmap.slug, topic.slug])
    slug = topic.slug
    token = str(context.get("csrf_token", ""))
    hidden = [("csrfmiddlewaretoken", token)] if token and token != "NOTPROVIDED" else []
    hidden += [(name, value) for name, value in (("next", next), ("refresh", refresh)) if value]
    if compact:
        hidden.append(("compact", "1"))
    statuses = format_html_join(
        "",
        '<button type="submit" id="status-{0}-{1}" name="status" value="{2}" class="seg status-{1}" '
        'aria-pressed="{3}"{4}>{5}</button>',
        (
            (
                slug,
                value,
                "not_started" if state.status == value else value,
                "true" if state.status == value else "false",
                format_html(' title="{}"', "Click again to clear") if state.status == value else "",
                label,
            )
            for value, label in TopicState.choices
        ),
    )
    dots = format_html_join(
        "",
        '<button type="submit" id="confidence-{0}-{1}" name="confidence" value="{2}" class="dot{3}" '
        'aria-pressed="{4}" title="{1}: {5}" aria-label="Confidence {1}: {5}">{1}</button>',
        (
            (
                slug,
                n,
                "" if state.confidence == n else n,
                " is-on" if state.confidence and n <= state.confidence else "",
                "true" if state.confidence == n else "false",
                CONFIDENCE_WORDS[n],
            )
            for n in TopicState.confidence_choices
        ),
    )
    return format_html(
        '<form id="topic-status-{slug}" class="status-control{compact}" method="post" action="{url}" '
        'hx-post="{url}" hx-target="this" hx-swap="outerHTML" hx-sync="this:replace">{hidden}'
        '<div class="segmented" role="group" aria-label="Status of {title}">{statuses}</div>'
        '<div class="confidence" role="group" aria-label="Confidence in {title}, 1 to 5" '
        'title="Your confidence, 1 (shaky) to 5 (could teach it)"><span class="confidence-label">Confidence</span>'
        '{dots}<span class="confidence-word">{word}</span></div></form>',
        slug=slug,
        compact=" is-compact" if compact else "",
        url=url,
        hidden=format_html_join("", '<input type="hidden" name="{}" value="{}">', hidden),
        title=topic.title,
        statuses=statuses,
        dots=dots,
        word=CONFIDENCE_WORDS.get(state.confidence or 0, "not rated"),
    )


@register.filter
def counts_for(tallies: Mapping[int, Counts] | None, roadmap: Roadmap) -> Counts | None:
    """One roadmap's counts from the roadmap list's overlay."""
    return (tallies or {}).get(roadmap.pk) if isinstance(tallies, Mapping) else None
