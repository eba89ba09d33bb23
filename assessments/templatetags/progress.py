"""The learner's side of the public roadmap pages: `{% load progress %}`.

Roadmap templates call these so that `roadmap/` code never imports `assessments`. Each tag runs a
fixed number of queries (none for anonymous visitors), whatever the number of topics on the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from assessments.forms import LinkForm, NoteForm
from assessments.models import PathFollow, PersonalLink, SelfAssessment, TopicNote, TopicProgress, TopicState
from assessments.progress import Counts, Progress
from roadmap.models import Layer, LearningPath, Roadmap, Topic

register = template.Library()


def _user(context: template.Context) -> Any:
    user = context.get("user")
    return user if user is not None and user.is_authenticated else None


@register.simple_tag(takes_context=True)
def progress_for(context: template.Context, roadmap: Roadmap) -> Progress:
    """`{% progress_for roadmap as progress %}`: the learner's rows in the roadmap (two queries)."""
    return Progress.load(_user(context), roadmap)


@register.filter
def state_of(progress: Progress, topic: Topic) -> TopicState:
    return progress.state(topic.pk)


@register.filter
def layer_counts(progress: Progress, layer: Layer) -> Counts:
    return progress.layer(layer.pk)


@register.simple_tag(takes_context=True)
def self_rating(context: template.Context, layer: Layer) -> SelfAssessment | None:
    """`{% self_rating layer as rating %}`: the learner's current rating of the layer (one query)."""
    user = _user(context)
    return SelfAssessment.objects.of(user).filter(layer=layer).first() if user else None


@register.simple_tag(takes_context=True)
def path_followed(context: template.Context, path: LearningPath) -> bool:
    user = _user(context)
    return bool(user) and PathFollow.objects.of(user).filter(path=path).exists()


@dataclass
class LearnerTopic:
    state: TopicState
    note: TopicNote | None
    links: list[PersonalLink]
    note_form: NoteForm
    link_form: LinkForm


@register.simple_tag(takes_context=True)
def learner_topic(context: template.Context, topic: Topic) -> LearnerTopic | None:
    """`{% learner_topic topic as mine %}`: status, note and links of the learner (three queries)."""
    user = _user(context)
    if user is None:
        return None
    progress = TopicProgress.objects.of(user).filter(topic=topic).first()
    note = TopicNote.objects.of(user).filter(topic=topic).first()
    return LearnerTopic(
        state=progress.state if progress else TopicState(),
        note=note,
        links=list(PersonalLink.objects.of(user).filter(topic=topic)),
        note_form=NoteForm(initial={"body": note.body if note else ""}),
        link_form=LinkForm(),
    )


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
        'aria-pressed="{4}">{1}</button>',
        (
            (
                slug,
                n,
                "" if state.confidence == n else n,
                " is-on" if state.confidence and n <= state.confidence else "",
                "true" if state.confidence == n else "false",
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
        "{dots}</div></form>",
        slug=slug,
        compact=" is-compact" if compact else "",
        url=url,
        hidden=format_html_join("", '<input type="hidden" name="{}" value="{}">', hidden),
        title=topic.title,
        statuses=statuses,
        dots=dots,
    )
