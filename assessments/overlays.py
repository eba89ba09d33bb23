"""The learner's side of the public roadmap pages, prepared here and shown in the pages' slots.

Named in settings.ROADMAP_OVERLAYS (the hook is roadmap/overlays.py). Each page's overlay runs a
fixed number of queries, whatever the number of topics on it, and none for an anonymous visitor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from accounts.http import Request
from accounts.models import User
from assessments.dashboard import roadmap_counts
from assessments.forms import LinkForm, NoteForm
from assessments.models import (
    GateRequest,
    PathFollow,
    PersonalLink,
    SelfAssessment,
    Status,
    TopicNote,
    TopicProgress,
    TopicState,
)
from assessments.progress import Progress
from roadmap.models import Topic
from roadmap.overlays import Overlay

# The small pieces that need this app's template tags; the rest are the app's own partials.
PIECES = "assessments/_roadmap_overlays.html"


def learner_overlay(request: Request, page: str, context: Mapping[str, Any]) -> Overlay | None:
    user = request.user
    prepare = PAGES.get(page)
    if prepare is None or not user.is_authenticated:
        return None
    return prepare(user, context)


def _roadmap(user: User, page: Mapping[str, Any]) -> Overlay:
    """Totals, a progress bar in each layer's card, the graph coloured by status (and filtered by it)
    and its marking mode: two queries."""
    progress = Progress.load(user, page["roadmap"])
    slots = {
        "progress": "assessments/_roadmap_progress.html",
        "layer": f"{PIECES}#layer-progress",
        "graph": "assessments/_graph_marking.html",
    }
    context: dict[str, Any] = {
        "progress": progress,
        "topic_statuses": progress.statuses,
        "topic_status_choices": Status.choices,
    }
    if focus := page.get("focus"):
        # The side panel's status, confidence and note for the topic open in it: one query more.
        slots["panel"] = f"{PIECES}#topic-panel"
        context["focus_state"] = progress.state(focus.pk)
        context["focus_note"] = TopicNote.objects.of(user).filter(topic=focus).first()
    return Overlay(slots=slots, context=context)


def _layer(user: User, page: Mapping[str, Any]) -> Overlay:
    """The layer's progress bar, a status control per topic, the self-rated beside the verified level
    and, when the layer has a gate, the learner's request for it: five queries, four without a gate."""
    layer = page["layer"]
    slots = {
        "progress": f"{PIECES}#layer-progress",
        "topic": f"{PIECES}#topic-control",
        "aside": "assessments/_layer_rating.html",
    }
    context = {
        "progress": Progress.load(user, page["roadmap"]),
        "rating": SelfAssessment.objects.of(user).filter(layer=layer).first(),
        "verified": GateRequest.objects.of(user).filter(gate__layer=layer).verifications().get(layer.pk),
    }
    if page["gate"] is not None:
        slots["gate"] = "assessments/_gate_actions.html"
        context["live_request"] = GateRequest.objects.of(user).live().filter(gate=page["gate"]).first()
    return Overlay(slots, context)


def _topic(user: User, page: Mapping[str, Any]) -> Overlay:
    """The learner's status, note and links: three queries."""
    topic = page["topic"]
    progress = TopicProgress.objects.of(user).filter(topic=topic).first()
    return Overlay(
        slots={"main": "assessments/_topic_learner.html", "aside": f"{PIECES}#topic-status"},
        context={"state": progress.state if progress else TopicState(), **topic_notes(user, topic)},
    )


def _path(user: User, page: Mapping[str, Any]) -> Overlay:
    """Follow or stop following the path: one query."""
    followed = PathFollow.objects.of(user).filter(path=page["path"]).exists()
    return Overlay(slots={"actions": "assessments/_path_follow.html"}, context={"followed": followed})


def _roadmaps(user: User, page: Mapping[str, Any]) -> Overlay:
    """The learner's progress bar on each roadmap's card: two queries."""
    counts = {roadmap.pk: tally for roadmap, tally in roadmap_counts(user)}
    return Overlay(slots={"card": f"{PIECES}#roadmap-card"}, context={"roadmap_tallies": counts})


PAGES: dict[str, Callable[[User, Mapping[str, Any]], Overlay]] = {
    "roadmaps": _roadmaps,
    "roadmap": _roadmap,
    "layer": _layer,
    "topic": _topic,
    "path": _path,
}


def topic_notes(user: User, topic: Topic, **given: Any) -> dict[str, Any]:
    """What the learner's notes-and-links card reads (assessments/_topic_learner.html): the topic
    page's overlay and the note and link actions share it. `given` wins over what is loaded here (a
    note just saved, a form with its errors). One query for the note unless given; the links are
    read only if the card's links part is drawn."""
    note = given["note"] if "note" in given else TopicNote.objects.of(user).filter(topic=topic).first()
    return {
        "note": note,
        "links": PersonalLink.objects.of(user).filter(topic=topic),
        "note_form": NoteForm(initial={"body": note.body if note else ""}),
        "link_form": LinkForm(),
        **given,
    }
