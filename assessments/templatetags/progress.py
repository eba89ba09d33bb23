"""The learner's side of the public roadmap pages: `{% load progress %}`.

Roadmap templates call these so that `roadmap/` code never imports `assessments`. Each tag runs a
fixed number of queries (none for anonymous visitors), whatever the number of topics on the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import template

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
