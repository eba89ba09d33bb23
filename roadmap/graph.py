"""The prerequisite DAG of a roadmap, and its picture as server-side SVG.

The picture is laid out in lanes, one per layer, in roadmap order. Inside a lane
topics are sorted by their depth in the lane's own prerequisite chain, then by
their order in the content, and wrapped into rows, so reading left to right and
top to bottom never meets a topic before its prerequisites in that lane. Edges
are drawn as curves but shown only for the focused topic (the one open in the side panel,
or hovered): at 150+ topics, every edge at once hides the boxes behind a web of lines.
"""

from __future__ import annotations

import textwrap
from collections.abc import Hashable, Iterable, Mapping, Set
from dataclasses import dataclass
from functools import lru_cache
from xml.sax.saxutils import escape, quoteattr

import networkx as nx

NODE_W = 196
NODE_H = 46
GAP_X = 22
GAP_Y = 18
LANE_HEADER = 34
LANE_PAD = 14
MARGIN = 12
COLUMNS = 6
LINE_CHARS = 27


@dataclass(frozen=True)
class GraphTopic:
    pk: int
    slug: str
    title: str
    url: str
    layer_pk: int
    order: int
    prerequisites: tuple[int, ...]


@dataclass(frozen=True)
class GraphLane:
    pk: int
    label: str
    title: str
    url: str


@dataclass(frozen=True)
class Placed:
    topic: GraphTopic
    x: int
    y: int


def prerequisite_graph(topics: Iterable[tuple[Hashable, Iterable[Hashable]]]) -> nx.DiGraph:
    """From (topic, its prerequisites) pairs; edges point from a prerequisite to the topic that needs it."""
    graph = nx.DiGraph()
    for topic, prerequisites in topics:
        graph.add_node(topic)
        for pre in prerequisites:
            graph.add_edge(pre, topic)
    return graph


def dag(topics: Iterable[GraphTopic]) -> nx.DiGraph:
    return prerequisite_graph((topic.pk, topic.prerequisites) for topic in topics)


def lane_depths(topics: list[GraphTopic]) -> dict[int, int]:
    """Longest chain of same-lane prerequisites leading to each topic."""
    members = {t.pk for t in topics}
    graph = dag(topics).subgraph(members)
    depth: dict[int, int] = {}
    for pk in nx.topological_sort(graph):
        depth[pk] = max((depth[p] + 1 for p in graph.predecessors(pk)), default=0)
    return depth


def layout(
    lanes: list[GraphLane], topics: list[GraphTopic]
) -> tuple[list[tuple[GraphLane, int, int]], list[Placed], int, int]:
    """Place lanes and topics. Returns (lanes with y and height, placed topics, width, height).

    Remembered for the last few graphs: the placement only changes when the content does, and
    working it out costs more than the rest of a roadmap page.
    """
    return _layout(tuple(lanes), tuple(topics))


@lru_cache(maxsize=16)
def _layout(
    lanes: tuple[GraphLane, ...], topics: tuple[GraphTopic, ...]
) -> tuple[list[tuple[GraphLane, int, int]], list[Placed], int, int]:
    by_lane: dict[int, list[GraphTopic]] = {}
    for topic in topics:
        by_lane.setdefault(topic.layer_pk, []).append(topic)
    width = MARGIN * 2 + LANE_PAD * 2 + COLUMNS * NODE_W + (COLUMNS - 1) * GAP_X
    y = MARGIN
    placed: list[Placed] = []
    lane_boxes = []
    for lane in lanes:
        members = by_lane.get(lane.pk, [])
        if not members:
            continue
        depth = lane_depths(members)
        members.sort(key=lambda t: (depth[t.pk], t.order, t.title))
        rows = (len(members) + COLUMNS - 1) // COLUMNS
        height = LANE_HEADER + rows * NODE_H + (rows - 1) * GAP_Y + LANE_PAD
        for i, topic in enumerate(members):
            row, col = divmod(i, COLUMNS)
            placed.append(
                Placed(
                    topic,
                    MARGIN + LANE_PAD + col * (NODE_W + GAP_X),
                    y + LANE_HEADER + row * (NODE_H + GAP_Y),
                )
            )
        lane_boxes.append((lane, y, height))
        y += height + GAP_Y
    return lane_boxes, placed, width, y - GAP_Y + MARGIN


def _lines(title: str) -> list[str]:
    lines = textwrap.wrap(title, LINE_CHARS) or [""]
    if len(lines) > 2:
        lines = [
            lines[0],
            textwrap.shorten(" ".join(lines[1:]), LINE_CHARS, placeholder="…"),
        ]
    return lines


def _edge_path(a: Placed, b: Placed) -> str:
    """A curve from the prerequisite's bottom edge to the dependent's top edge (or side, in one row)."""
    if a.y == b.y:
        x1, y1 = (a.x + NODE_W, a.y + NODE_H / 2) if a.x < b.x else (a.x, a.y + NODE_H / 2)
        x2, y2 = (b.x, b.y + NODE_H / 2) if a.x < b.x else (b.x + NODE_W, b.y + NODE_H / 2)
        bend = (x2 - x1) / 2
        return f"M{x1:.0f},{y1:.0f} C{x1 + bend:.0f},{y1:.0f} {x2 - bend:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
    x1, y1 = a.x + NODE_W / 2, a.y + NODE_H
    x2, y2 = b.x + NODE_W / 2, b.y
    if y2 < y1:  # a prerequisite placed below its dependent: leave from the top instead
        y1, y2 = a.y, b.y + NODE_H
    bend = max(24.0, abs(y2 - y1) / 3)
    sign = 1 if y2 > y1 else -1
    return f"M{x1:.0f},{y1:.0f} C{x1:.0f},{y1 + sign * bend:.0f} {x2:.0f},{y2 - sign * bend:.0f} {x2:.0f},{y2:.0f}"


def render_svg(
    lanes: list[GraphLane],
    topics: list[GraphTopic],
    *,
    statuses: Mapping[int, str] | None = None,
    title: str = "Topic graph",
    focus: int | None = None,
    matches: Set[int] | None = None,
    panel_url: str = "",
) -> str:
    """The whole graph as one <svg> element. `statuses` maps topic pk to a progress status;
    `focus` is the topic whose edges are shown; `matches`, where given, the topics a search or filter
    kept (the others are dimmed); `panel_url`, where given, the link of each box, with `__slug__` for
    the topic's slug (the roadmap page's side panel) instead of the topic's own page."""
    statuses = statuses or {}
    lane_boxes, placed, width, height = layout(lanes, topics)
    where = {p.topic.pk: p for p in placed}
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="topic-graph" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="group" aria-labelledby="graph-title">',
        f'<title id="graph-title">{escape(title)}</title>',
        '<defs><marker id="arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L8,4 L0,8 z" class="graph-arrow"/></marker></defs>',
    ]
    for lane, y, h in lane_boxes:
        out.append(
            f'<g class="graph-lane"><rect x="{MARGIN}" y="{y}" width="{width - 2 * MARGIN}" height="{h}" rx="10"/>'
            f'<a href={quoteattr(lane.url)}><text x="{MARGIN + LANE_PAD}" y="{y + 22}" class="graph-lane-title">'
            f"{escape(lane.label)} · {escape(lane.title)}</text></a></g>"
        )
    out.append('<g class="graph-edges">')
    for p in placed:
        for pre in p.topic.prerequisites:
            if pre in where:
                classes = ["far"] if where[pre].topic.layer_pk != p.topic.layer_pk else []
                if focus in (pre, p.topic.pk):
                    classes.append("is-focus")
                far = f' class="{" ".join(classes)}"' if classes else ""
                out.append(
                    f'<path d="{_edge_path(where[pre], p)}" data-from="{pre}" data-to="{p.topic.pk}"{far} '
                    'marker-end="url(#arrow)"/>'
                )
    out.append("</g>")
    for p in placed:
        status = statuses.get(p.topic.pk, "not_started")
        lines = _lines(p.topic.title)
        first_y = p.y + NODE_H / 2 + (5 if len(lines) == 1 else -3)
        text = "".join(
            f'<tspan x="{p.x + 12}" y="{first_y + i * 16:.0f}">{escape(line)}</tspan>' for i, line in enumerate(lines)
        )
        marks = ' data-match="no"' if matches is not None and p.topic.pk not in matches else ""
        marks += ' aria-current="true"' if focus == p.topic.pk else ""
        out.append(
            f"<a href={quoteattr(panel_url.replace('__slug__', p.topic.slug) if panel_url else p.topic.url)} "
            f'class="graph-node status-{escape(status)}" data-topic="{p.topic.pk}" '
            f'id="node-{escape(p.topic.slug)}" data-layer="{p.topic.layer_pk}"{marks}>'
            f"<title>{escape(p.topic.title)} ({escape(status.replace('_', ' '))})</title>"
            f'<rect x="{p.x}" y="{p.y}" width="{NODE_W}" height="{NODE_H}" rx="8"/>'
            f"<text>{text}</text></a>"
        )
    out.append("</svg>")
    return "".join(out)
