"""What a team's leads see: the matrix of members by layers, the weakest topics, who has gone quiet.

Each builder runs a fixed number of queries whatever the number of members (the team matrix of 200
members is benchmarked in bench/team_matrix.py), and hands plain data to the templates and the CSV.
Who may see which rows is decided by the views (accounts/rules.py); these functions compute.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import ClassVar

from django.db.models import Avg, Count, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from accounts.models import Membership, Team, User
from assessments.dashboard import LAYER_FIELDS
from assessments.models import Activity, GateRequest, SelfAssessment, Status, TopicProgress
from roadmap.models import Layer, Roadmap, Topic

MEMBER_FIELDS = ("team_id", "role", "joined_at", "user__username", "user__display_name", "user__first_name",
                 "user__last_name")  # fmt: skip


def _members(team: Team) -> list[Membership]:
    """The team's memberships with the user fields the pages show: one query."""
    return list(team.memberships.select_related("user").only(*MEMBER_FIELDS).order_by("user__username"))


def _in_team(team: Team) -> Q:
    # A subquery rather than a join through memberships: SQLite then walks each member's rows by index.
    return Q(user__in=team.memberships.values("user_id"))


def last_activity(team: Team) -> dict[int, datetime]:
    """{user pk: time of their newest activity}, for every member who has any: one query, an index
    seek per member on (user, created_at) rather than a scan of everyone's activity."""
    newest = Activity.objects.filter(user=OuterRef("user_id")).order_by("-created_at").values("created_at")[:1]
    rows = team.memberships.order_by().annotate(last=Subquery(newest)).values_list("user_id", "last")
    return {user_id: last for user_id, last in rows if last is not None}


# --- the matrix ------------------------------------------------------------------------------

UNVERIFIED = (0, False)  # (level, attested) of a layer without an approved gate


class Cell:
    """One member's levels in one layer: verified (from approved gates) and self-rated, never mixed.

    There are only 7 x 8 x 2 different cells, so they are made once (`Cell.of`) with their HTML: a team of
    200 draws thousands, and rendering each through the template language was most of the page's time.
    """

    __slots__ = ("attested", "html", "self_level", "verified")
    _made: ClassVar[dict[tuple[int, int | None, bool], Cell]] = {}

    def __init__(self, verified: int, self_level: int | None, attested: bool = False) -> None:
        self.verified = verified
        self.self_level = self_level
        self.attested = attested
        shown = "–" if self_level is None else self_level
        # Only integers go in: nothing to escape. No title attribute: at 200 members it doubled the page;
        # the table's caption and legend say what V, S and the attested mark are.
        mark = '<span class="att">*</span>' if attested else ""
        css = f"cell lv-{verified}{' is-attested' if attested else ''}"
        self.html = mark_safe(f'<td class="{css}">V{verified}{mark} · <span class="cs">S{shown}</span></td>')  # noqa: S308

    @classmethod
    def of(cls, verified: int, attested: bool, self_level: int | None) -> Cell:
        key = (verified, self_level, bool(attested))
        cell = cls._made.get(key)
        if cell is None:
            level = None if self_level is None else int(self_level)
            cell = cls._made[key] = cls(int(verified), level, bool(attested))
        return cell

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Cell) and (self.verified, self.self_level, self.attested) == (
            other.verified,
            other.self_level,
            other.attested,
        )

    def __hash__(self) -> int:
        return hash((self.verified, self.self_level, self.attested))

    def __repr__(self) -> str:
        return f"Cell({self.verified}, {self.self_level}{', attested' if self.attested else ''})"

    @property
    def css(self) -> str:
        return f"lv-{self.verified}"


@dataclass(frozen=True)
class MemberRow:
    membership: Membership
    cells: list[Cell]
    done: int | None  # topics done; None when not asked for (the page does without, the CSV has it)
    last_active: datetime | None

    @property
    def user(self) -> User:
        return self.membership.user

    @property
    def cells_html(self) -> SafeString:
        return mark_safe("".join(cell.html for cell in self.cells))  # noqa: S308 - cells are integers only


@dataclass(frozen=True)
class LayerSummary:
    """The team's median levels in one layer; self-rated over those who rated themselves."""

    layer: Layer
    verified: float | None
    self_level: float | None
    rated: int

    @property
    def css(self) -> str:
        return f"lv-{int(self.verified)}" if self.verified is not None else "lv-0"


def _median(values: list[int]) -> float | None:
    return statistics.median(values) if values else None


@dataclass
class TeamMatrix:
    team: Team
    roadmap: Roadmap
    layers: list[Layer]  # the columns shown
    track_count: int  # advanced tracks of the roadmap, shown only on request
    tracks_shown: bool
    rows: list[MemberRow]  # every member; the view decides which it shows
    summary: list[LayerSummary]
    topic_total: int
    members: int = 0
    shown_rows: list[MemberRow] = field(default_factory=list)

    def only(self, users: Iterable[int] | None) -> TeamMatrix:
        """The rows of these user pks (None: all) are the ones shown."""
        keep = None if users is None else set(users)
        self.shown_rows = [row for row in self.rows if keep is None or row.user.pk in keep]
        return self


def _done_counts(team: Team, roadmap: Roadmap) -> dict[int, int]:
    return dict(
        TopicProgress.objects.filter(_in_team(team), status=Status.DONE)
        .in_roadmap(roadmap)
        .current()
        .order_by()
        .values("user_id")
        .annotate(n=Count("id"))
        .values_list("user_id", "n")
    )


def build_matrix(team: Team, roadmap: Roadmap, *, tracks: bool = False, counts: bool = False) -> TeamMatrix:
    """Members by the roadmap's layers (advanced tracks only with `tracks`): four queries whatever the
    size of the team, three more with `counts` (topics done, the roadmap's topics, last activity)."""
    members = _members(team)
    all_layers = list(roadmap.layers.current().only(*LAYER_FIELDS))
    main = [layer for layer in all_layers if layer.kind != Layer.Kind.ADVANCED_TRACK]
    track_layers = [layer for layer in all_layers if layer.kind == Layer.Kind.ADVANCED_TRACK]
    layers = main + track_layers if tracks else main
    self_levels = {
        (user_id, layer_id): level
        for user_id, layer_id, level in SelfAssessment.objects.filter(_in_team(team))
        .in_roadmap(roadmap)
        .newest()
        .values_list("user_id", "layer_id", "level")
    }
    verified = {
        (learner_id, layer_id): (level, attested)  # Cell.of's first two arguments
        for learner_id, layer_id, level, attested in GateRequest.objects.filter(
            learner__in=[m.user_id for m in members], gate__layer__in=[layer.pk for layer in layers]
        ).verified_levels()
    }
    # Done counts cost a pass over every member's progress rows (about 40 ms for 200 members here), so the
    # page leaves them to the CSV and the drill-down.
    done = _done_counts(team, roadmap) if counts else {}
    last = last_activity(team) if counts else {}
    layer_pks = [layer.pk for layer in layers]
    of = Cell.of
    rows = [
        MemberRow(
            m,
            [of(*verified.get((m.user_id, pk), UNVERIFIED), self_levels.get((m.user_id, pk))) for pk in layer_pks],
            done.get(m.user_id, 0) if counts else None,
            last.get(m.user_id),
        )
        for m in members
    ]
    summary = []
    for i, layer in enumerate(layers):
        rated = [row.cells[i].self_level for row in rows if row.cells[i].self_level is not None]
        summary.append(
            LayerSummary(layer, _median([row.cells[i].verified for row in rows]), _median(rated), len(rated))  # type: ignore[arg-type]
        )
    matrix = TeamMatrix(
        team=team,
        roadmap=roadmap,
        layers=layers,
        track_count=len(track_layers),
        tracks_shown=tracks,
        rows=rows,
        summary=summary,
        topic_total=roadmap.topics.current().count() if counts else 0,
        members=len(rows),
    )
    return matrix.only(None)


def matrix_csv_rows(matrix: TeamMatrix) -> list[list[object]]:
    """The matrix as a header and one line per shown member; every layer gets a verified and a self column."""
    header: list[object] = ["username", "name", "role", "topics done", "topics", "last active"]
    for layer in matrix.layers:
        header += [f"{layer.label} verified", f"{layer.label} self-rated"]
    lines: list[list[object]] = [header]
    for row in matrix.shown_rows:
        line: list[object] = [
            row.user.username,
            row.user.name,
            row.membership.role,
            row.done,
            matrix.topic_total,
            row.last_active.date().isoformat() if row.last_active else "",
        ]
        for cell in row.cells:
            line += [cell.verified, "" if cell.self_level is None else cell.self_level]
        lines.append(list(line))
    return lines


# --- weakest topics ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TopicStat:
    topic: Topic
    done: int
    learning: int
    rated: int
    mean_confidence: float | None
    members: int

    @property
    def done_share(self) -> float:
        return self.done / self.members if self.members else 0.0

    @property
    def done_percent(self) -> int:
        return round(100 * self.done_share)


@dataclass
class WeakTopics:
    members: int
    least_done: list[TopicStat]  # among topics someone in the team has started
    least_confident: list[TopicStat]
    unstarted: list[Topic]  # nobody in the team is learning or has done these


TOPIC_FIELDS = ("roadmap__slug", "layer__code", "layer__kind", "layer__number", "slug", "title", "order")


def weakest_topics(team: Team, roadmap: Roadmap, *, limit: int = 10) -> WeakTopics:
    """Among the roadmap's current topics, those the fewest members have done, and those with the lowest
    mean confidence (over members who gave one). Three queries.

    Topics nobody in the team has started all share the lowest share done (0); listed first they would
    fill the list with the roadmap's last layers, so they come apart, in `unstarted`, and `least_done`
    ranks the topics the team has reached.
    """
    members = team.memberships.count()
    topics = list(
        roadmap.topics.current()
        .select_related("layer", "roadmap")
        .only(*TOPIC_FIELDS)
        .order_by("layer__number", "order")
    )
    tally = {
        row["topic_id"]: row
        for row in TopicProgress.objects.filter(_in_team(team))
        .in_roadmap(roadmap)
        .current()
        .order_by()
        .values("topic_id")
        .annotate(
            done=Count("id", filter=Q(status=Status.DONE)),
            learning=Count("id", filter=Q(status=Status.LEARNING)),
            rated=Count("confidence"),
            mean=Avg("confidence"),
        )
    }
    stats = []
    for topic in topics:
        row = tally.get(topic.pk, {})
        stats.append(
            TopicStat(topic, row.get("done", 0), row.get("learning", 0), row.get("rated", 0), row.get("mean"), members)
        )
    position = {stat.topic.pk: i for i, stat in enumerate(stats)}
    started = [s for s in stats if s.done or s.learning]
    # Equal shares: topics more people are learning but have not finished come first; the team is stuck there.
    least_done = sorted(started, key=lambda s: (s.done_share, -s.learning, position[s.topic.pk]))[:limit]
    rated = [s for s in stats if s.rated]
    least_confident = sorted(rated, key=lambda s: (s.mean_confidence, -s.rated, position[s.topic.pk]))[:limit]
    unstarted = [s.topic for s in stats if not (s.done or s.learning)]
    return WeakTopics(members, least_done, least_confident, unstarted)


# --- inactivity -------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuietMember:
    membership: Membership
    last_active: datetime | None

    @property
    def user(self) -> User:
        return self.membership.user


def inactive_members(team: Team, *, days: int, now: datetime | None = None) -> list[QuietMember]:
    """Members with no activity in the last `days` days, those with none ever first: two queries."""
    cutoff = (now or timezone.now()) - timedelta(days=days)
    last = last_activity(team)
    quiet = [QuietMember(m, last.get(m.user_id)) for m in _members(team)]
    quiet = [q for q in quiet if q.last_active is None or q.last_active < cutoff]
    epoch = datetime.min.replace(tzinfo=cutoff.tzinfo)
    return sorted(quiet, key=lambda q: (q.last_active or epoch, q.user.username))
