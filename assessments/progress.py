"""A learner's progress through one roadmap: counts, next topics, streaks and the activity heatmap.

Each loader runs a fixed number of queries, whatever the size of the roadmap or of the learner's
history, and hands plain data to pure functions that the tests call directly.

Days are calendar days in the site's time zone (settings.TIME_ZONE, UTC by default), not in the
learner's own: a streak survives as long as there is activity today or yesterday in that zone.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

import networkx as nx

from accounts.models import User
from assessments.models import CLOSED, Status, TopicProgress, TopicState
from roadmap.models import Layer, PathStep, Roadmap, Topic

HEATMAP_WEEKS = 53


@dataclass(frozen=True)
class Counts:
    """Topics of a layer or roadmap by status. Skipped is counted apart from done."""

    total: int = 0
    done: int = 0
    learning: int = 0
    skipped: int = 0

    @property
    def not_started(self) -> int:
        return max(self.total - self.done - self.learning - self.skipped, 0)

    @property
    def closed(self) -> int:
        return self.done + self.skipped

    @property
    def complete(self) -> bool:
        """Every topic done or skipped (an empty layer is not complete)."""
        return self.total > 0 and self.closed >= self.total

    def _percent(self, n: int) -> float:
        return round(100 * n / self.total, 1) if self.total else 0.0

    @property
    def done_percent(self) -> float:
        return self._percent(self.done)

    @property
    def learning_percent(self) -> float:
        return self._percent(self.learning)

    @property
    def skipped_percent(self) -> float:
        return self._percent(self.skipped)

    def as_dict(self) -> dict[str, int | bool]:
        return {
            "done": self.done,
            "learning": self.learning,
            "skipped": self.skipped,
            "not_started": self.not_started,
            "total": self.total,
            "complete": self.complete,
        }


@dataclass
class Progress:
    """One learner's rows in one roadmap, with the roadmap's current topics (pk, layer) in order."""

    states: dict[int, TopicState] = field(default_factory=dict)
    layer_of: dict[int, int] = field(default_factory=dict)
    totals: dict[int, int] = field(default_factory=dict)
    retired: set[int] = field(default_factory=set)
    order: list[int] = field(default_factory=list)

    @classmethod
    def load(cls, user: User | None, roadmap: Roadmap) -> Progress:
        """Two queries for a learner, none for an anonymous visitor."""
        if user is None or not user.is_authenticated:
            return cls()
        progress = cls()
        for pk, layer_id in Topic.objects.current().in_roadmap(roadmap).values_list("pk", "layer_id"):
            progress.order.append(pk)
            progress.totals[layer_id] = progress.totals.get(layer_id, 0) + 1
        rows = (
            TopicProgress.objects.of(user)
            .in_roadmap(roadmap)
            .values_list("topic_id", "topic__layer_id", "topic__retired", "status", "confidence")
        )
        for topic_id, layer_id, retired, status, confidence in rows:
            progress.states[topic_id] = TopicState(status, confidence)
            progress.layer_of[topic_id] = layer_id
            if retired:
                progress.retired.add(topic_id)
        return progress

    @property
    def statuses(self) -> dict[int, str]:
        """{topic pk: status}, for the graph's node colours."""
        return {pk: state.status for pk, state in self.states.items()}

    def state(self, topic_pk: int) -> TopicState:
        return self.states.get(topic_pk) or TopicState()

    def _counts(self, total: int, layer_pk: int | None = None) -> Counts:
        tally: Counter[str] = Counter(
            state.status
            for pk, state in self.states.items()
            if pk not in self.retired and (layer_pk is None or self.layer_of.get(pk) == layer_pk)
        )
        return Counts(
            total=total,
            done=tally[Status.DONE],
            learning=tally[Status.LEARNING],
            skipped=tally[Status.SKIPPED],
        )

    def layer(self, layer_pk: int) -> Counts:
        return self._counts(self.totals.get(layer_pk, 0), layer_pk)

    @property
    def overall(self) -> Counts:
        return self._counts(sum(self.totals.values()))

    @property
    def layer_count(self) -> int:
        """Layers that hold current topics."""
        return len(self.totals)

    @property
    def complete_layer_count(self) -> int:
        return sum(1 for pk in self.totals if self.layer(pk).complete)


def checklist_layers(roadmap: Roadmap) -> list[tuple[Layer, list[Topic]]]:
    """The roadmap's current layers that hold current topics, each with its topics (only the columns a
    checklist shows): two queries. The learner's checklist and a lead's read-only copy of it share it."""
    layers = list(roadmap.layers.current().only("roadmap_id", "number", "code", "slug", "title", "kind"))
    topics = list(roadmap.topics.current().only("roadmap_id", "layer_id", "slug", "title", "order"))
    by_layer = {layer.pk: [t for t in topics if t.layer_id == layer.pk] for layer in layers}
    return [(layer, by_layer[layer.pk]) for layer in layers if by_layer[layer.pk]]


@dataclass(frozen=True)
class Suggestion:
    topic: Topic
    state: TopicState
    path_title: str = ""


def suggest(
    order: list[int],
    prerequisites: Iterable[tuple[int, int]],
    statuses: Mapping[int, str],
    path_steps: Iterable[int] = (),
) -> list[int]:
    """Topics to study next: open topics whose prerequisites are all done or skipped.

    `order` lists the roadmap's current topics in layer/content order; `prerequisites` holds
    (prerequisite, topic) edges; `path_steps` lists the topics of the followed paths in path
    order. Topics on a followed path come first, in the path's order, then the rest in layer
    order. A topic with any open prerequisite is never suggested.
    """
    graph = nx.DiGraph()
    graph.add_nodes_from(order)
    graph.add_edges_from((a, b) for a, b in prerequisites if a in graph and b in graph)

    def closed(pk: int) -> bool:
        return statuses.get(pk) in CLOSED

    ready = {pk for pk in order if not closed(pk) and all(closed(p) for p in graph.predecessors(pk))}
    rank: dict[int, tuple[int, int]] = {}
    for i, pk in enumerate(path_steps):
        rank.setdefault(pk, (0, i))
    for i, pk in enumerate(order):
        rank.setdefault(pk, (1, i))
    return sorted(ready, key=lambda pk: rank[pk])


def followed_steps(user: User, roadmap: Roadmap) -> list[tuple[int, str, int]]:
    """(path pk, path title, topic pk) of the paths the learner follows, in path and step order."""
    return list(
        PathStep.objects.filter(path__follows__user=user, path__roadmap=roadmap, path__retired=False)
        .order_by("path__order", "path_id", "order")
        .values_list("path_id", "path__title", "topic_id")
    )


def next_topics(
    user: User,
    roadmap: Roadmap,
    *,
    progress: Progress | None = None,
    steps: list[tuple[int, str, int]] | None = None,
    limit: int = 8,
) -> list[Suggestion]:
    """Five queries, three when the caller has the learner's Progress and followed steps already:
    topics and statuses, followed steps, prerequisite edges and the chosen topics themselves."""
    if progress is None:
        progress = Progress.load(user, roadmap)
    if steps is None:
        steps = followed_steps(user, roadmap)
    # Edges touching retired topics are dropped by suggest(), which only keeps current topics.
    edges = Topic.prerequisites.through.objects.filter(from_topic__roadmap=roadmap).values_list(
        "to_topic_id", "from_topic_id"
    )
    path_of: dict[int, str] = {}
    for _, title, topic_id in steps:
        path_of.setdefault(topic_id, title)
    chosen = suggest(progress.order, edges, progress.statuses, [pk for _, _, pk in steps])[:limit]
    by_pk = Topic.objects.select_related("layer", "roadmap").only(*SUGGESTION_FIELDS).in_bulk(chosen)
    return [Suggestion(by_pk[pk], progress.state(pk), path_of.get(pk, "")) for pk in chosen]


# What a suggestion shows: title, link, layer label. The long Markdown fields stay in the database.
SUGGESTION_FIELDS = (
    "slug",
    "title",
    "roadmap__slug",
    "layer__code",
    "layer__kind",
    "layer__title",
    "layer__slug",
    "layer__roadmap_id",
)


def streaks(days: Iterable[date], today: date) -> tuple[int, int]:
    """(current, longest) runs of consecutive active days. Today or yesterday keeps a streak alive."""
    active = set(days)
    longest = run = 0
    previous: date | None = None
    for day in sorted(active):
        run = run + 1 if previous is not None and day - previous == timedelta(days=1) else 1
        longest = max(longest, run)
        previous = day
    start = today if today in active else today - timedelta(days=1)
    current = 0
    while start - timedelta(days=current) in active:
        current += 1
    return current, longest


@dataclass(frozen=True)
class HeatCell:
    day: date
    count: int
    level: int  # 0 (nothing) to 4 (busiest)


def heatmap(day_counts: Mapping[date, int], today: date, weeks: int = HEATMAP_WEEKS) -> list[list[HeatCell]]:
    """Columns of Monday-to-Sunday weeks, the last one holding today; days after today are left out.

    Levels are relative to the busiest day in the window, in four equal steps.
    """
    first = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)
    busiest = max((n for d, n in day_counts.items() if first <= d <= today), default=0)
    columns = []
    for w in range(weeks):
        column = []
        for d in range(7):
            day = first + timedelta(weeks=w, days=d)
            if day > today:
                break
            n = day_counts.get(day, 0)
            level = 0 if n == 0 else max(1, math.ceil(4 * n / busiest))
            column.append(HeatCell(day, n, level))
        columns.append(column)
    return columns
