"""The learner's dashboard: everything on it, gathered in a fixed number of queries."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from accounts.models import User
from assessments.charts import RadarAxis, heatmap_svg, radar_svg
from assessments.models import (
    Activity,
    PathFollow,
    SelfAssessment,
    Status,
    TopicProgress,
    cumulative_level,
    with_verification,
)
from assessments.progress import Counts, Progress, Suggestion, followed_steps, heatmap, next_topics, streaks
from roadmap.models import CompetencyLevel, Layer, LearningPath, Roadmap


@dataclass(frozen=True)
class LayerRow:
    layer: Layer
    counts: Counts
    self_level: int | None
    self_title: str
    verified_level: int
    verified_by: str = ""
    verified_at: datetime | None = None
    verified_request: int | None = None
    gate_level: int | None = None  # the level this layer's gate counts toward
    verified_attested: bool = False  # approved on a reviewer's attestation, not machine evidence


@dataclass(frozen=True)
class FollowedPath:
    path: LearningPath
    done: int
    total: int


@dataclass
class Dashboard:
    roadmaps: list[tuple[Roadmap, Counts]]
    roadmap: Roadmap | None = None
    overall: Counts = field(default_factory=Counts)
    layers: list[LayerRow] = field(default_factory=list)
    levels: dict[int, CompetencyLevel] = field(default_factory=dict)
    verified_level: int = 0  # roadmap-wide: every gate of levels 1..L approved
    next_level_needs: list[Layer] = field(default_factory=list)
    radar: SafeString = field(default_factory=lambda: mark_safe(""))
    suggestions: list[Suggestion] = field(default_factory=list)
    paths: list[FollowedPath] = field(default_factory=list)
    heatmap: SafeString = field(default_factory=lambda: mark_safe(""))

    @property
    def attested_layers(self) -> list[Layer]:
        """The layers under the roadmap-wide verified level whose approval rests on attestation:
        empty when that level rests on machine-verified evidence alone."""
        return [
            row.layer
            for row in self.layers
            if row.verified_attested and row.gate_level and row.gate_level <= self.verified_level
        ]

    current_streak: int = 0
    longest_streak: int = 0
    active_days: int = 0
    timeline: list[Activity] = field(default_factory=list)

    @property
    def complete_layers(self) -> int:
        return sum(1 for row in self.layers if row.counts.complete)

    @property
    def started(self) -> bool:
        return any(counts.done or counts.learning or counts.skipped for _, counts in self.roadmaps)


def roadmap_counts(user: User) -> list[tuple[Roadmap, Counts]]:
    """Every current roadmap with the learner's counts in it: two queries."""
    roadmaps = (
        Roadmap.objects.current()
        .only("slug", "title", "order")
        .annotate(topic_count=Count("topics", filter=Q(topics__retired=False), distinct=True))
    )
    tally: dict[int, dict[str, int]] = defaultdict(dict)
    rows = (
        TopicProgress.objects.of(user)
        .current()
        .order_by()
        .values("topic__roadmap_id", "status")
        .annotate(n=Count("id"))
        .values_list("topic__roadmap_id", "status", "n")
    )
    for roadmap_id, status, n in rows:
        tally[roadmap_id][status] = n
    return [
        (
            roadmap,
            Counts(
                total=roadmap.topic_count,  # type: ignore[attr-defined]
                done=tally[roadmap.pk].get(Status.DONE, 0),
                learning=tally[roadmap.pk].get(Status.LEARNING, 0),
                skipped=tally[roadmap.pk].get(Status.SKIPPED, 0),
            ),
        )
        for roadmap in roadmaps
    ]


def pick_roadmap(roadmaps: list[tuple[Roadmap, Counts]], slug: str | None) -> Roadmap | None:
    """The one asked for, else the one with the most marked topics, else the first."""
    if slug:
        return next((r for r, _ in roadmaps if r.slug == slug), None)
    if not roadmaps:
        return None
    return max(roadmaps, key=lambda rc: (rc[1].done + rc[1].learning + rc[1].skipped, -rc[0].order))[0]


def build_dashboard(user: User, roadmap_slug: str | None = None, *, today: date | None = None) -> Dashboard:
    today = today or timezone.localdate()
    roadmaps = roadmap_counts(user)
    board = Dashboard(roadmaps=roadmaps, roadmap=pick_roadmap(roadmaps, roadmap_slug))
    if board.roadmap is not None:
        _fill_roadmap(board, user, board.roadmap)
    activity = Activity.objects.of(user)
    days = activity.day_counts()
    board.current_streak, board.longest_streak = streaks(days, today)
    year_ago = today - timedelta(days=365)
    board.active_days = sum(1 for day in days if day > year_ago)
    board.heatmap = mark_safe(heatmap_svg(heatmap(days, today)))  # noqa: S308 - heatmap_svg escapes its text
    board.timeline = list(activity.recent(20))
    return board


# What the layer table shows; the long Markdown fields stay in the database.
LAYER_FIELDS = ("roadmap_id", "number", "code", "slug", "title", "kind")


def _fill_roadmap(board: Dashboard, user: User, roadmap: Roadmap) -> None:
    # The layers carry their gate's level and the learner's approval of it: no extra query.
    layers = list(with_verification(roadmap.layers.current().only(*LAYER_FIELDS), user))
    progress = Progress.load(user, roadmap)
    self_levels = SelfAssessment.objects.of(user).in_roadmap(roadmap).levels()
    board.overall = progress.overall
    board.levels = {level.number: level for level in roadmap.levels.current()}
    board.layers = [
        LayerRow(
            layer,
            progress.layer(layer.pk),
            self_levels.get(layer.pk),
            board.levels[self_levels[layer.pk]].title if self_levels.get(layer.pk) in board.levels else "",
            (layer.gate_level or 0) if layer.verified_request else 0,  # type: ignore[attr-defined]
            layer.verified_by or "",  # type: ignore[attr-defined]
            layer.verified_at,  # type: ignore[attr-defined]
            layer.verified_request,  # type: ignore[attr-defined]
            layer.gate_level,  # type: ignore[attr-defined]
            bool(layer.verified_attested),  # type: ignore[attr-defined]
        )
        for layer in layers
    ]
    board.verified_level = cumulative_level((row.gate_level, bool(row.verified_request)) for row in board.layers)
    pending = [row for row in board.layers if row.gate_level and not row.verified_request]
    if pending:
        target = min(row.gate_level for row in pending if row.gate_level)
        board.next_level_needs = [row.layer for row in pending if row.gate_level and row.gate_level <= target]
    axes = [RadarAxis(row.layer.code, str(row.layer), row.self_level or 0, row.verified_level) for row in board.layers]
    board.radar = mark_safe(  # noqa: S308 - radar_svg escapes its text
        radar_svg(axes, title=f"{roadmap.title}: self-rated and verified level per layer")
    )
    steps = followed_steps(user, roadmap)
    board.suggestions = next_topics(user, roadmap, progress=progress, steps=steps)
    current = set(progress.order)
    in_path: dict[int, list[int]] = defaultdict(list)
    for path_id, _, topic_id in steps:
        if topic_id in current:
            in_path[path_id].append(topic_id)
    follows = PathFollow.objects.of(user).current().filter(path__roadmap=roadmap).select_related("path__roadmap")
    board.paths = [
        FollowedPath(
            follow.path,
            sum(1 for pk in in_path[follow.path_id] if progress.state(pk).is_closed),
            len(in_path[follow.path_id]),
        )
        for follow in follows
    ]
