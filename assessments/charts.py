"""Server-side SVG charts for the dashboard: the competency radar and the activity heatmap.

Colours come from CSS classes (static/css/app.css), so both follow the light and dark themes.
Every piece of text is escaped here, so the results can be marked safe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from xml.sax.saxutils import escape

from assessments.progress import HeatCell

MAX_LEVEL = 6


@dataclass(frozen=True)
class RadarAxis:
    label: str  # short: "1", "A"
    title: str  # long, for the tooltip
    self_rated: int
    verified: int


def _point(cx: float, cy: float, radius: float, i: int, n: int) -> tuple[float, float]:
    angle = -math.pi / 2 + 2 * math.pi * i / n
    return cx + radius * math.cos(angle), cy + radius * math.sin(angle)


def _polygon(points: list[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


def radar_svg(axes: list[RadarAxis], *, size: int = 340, title: str = "Competency radar") -> str:
    """Self-rated against verified level per layer, on 0-6 axes.

    With fewer than three layers a polygon says nothing, so the same data is drawn as bars.
    """
    if len(axes) < 3:
        return _bars_svg(axes, title=title)
    n = len(axes)
    cx = cy = size / 2
    radius = size / 2 - 34
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="radar" viewBox="0 0 {size} {size}" width="{size}" '
        f'height="{size}" role="img" aria-labelledby="radar-title">',
        f'<title id="radar-title">{escape(title)}</title>',
        '<g class="radar-grid">',
    ]
    for level in range(1, MAX_LEVEL + 1):
        ring = [_point(cx, cy, radius * level / MAX_LEVEL, i, n) for i in range(n)]
        out.append(f'<polygon points="{_polygon(ring)}"/>')
    for i in range(n):
        x, y = _point(cx, cy, radius, i, n)
        out.append(f'<line x1="{cx:.1f}" y1="{cy:.1f}" x2="{x:.1f}" y2="{y:.1f}"/>')
    out.append("</g>")
    for css, values in (
        ("radar-verified", [a.verified for a in axes]),
        ("radar-self", [a.self_rated for a in axes]),
    ):
        shape = [_point(cx, cy, radius * v / MAX_LEVEL, i, n) for i, v in enumerate(values)]
        out.append(f'<polygon class="{css}" points="{_polygon(shape)}"/>')
        out.extend(f'<circle class="{css}" cx="{x:.1f}" cy="{y:.1f}" r="2.5"/>' for x, y in shape)
    for i, axis in enumerate(axes):
        x, y = _point(cx, cy, radius + 16, i, n)
        out.append(
            f'<text class="radar-label" x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle">'
            f"<title>{escape(axis.title)}: self-rated {axis.self_rated}, verified {axis.verified}</title>"
            f"{escape(axis.label)}</text>"
        )
    for level in (2, 4, 6):
        _, y = _point(cx, cy, radius * level / MAX_LEVEL, 0, n)
        out.append(f'<text class="radar-scale" x="{cx + 4:.1f}" y="{y + 10:.1f}">{level}</text>')
    out.append("</svg>")
    return "".join(out)


def _bars_open(width: int, height: int, title: str, title_id: str, css: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{css}" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-labelledby="{title_id}">',
        f'<title id="{title_id}">{escape(title)}</title>',
    ]


def bars_svg(axes: list[RadarAxis], *, title: str) -> str:
    """Self-rated and verified level per axis as two bars under the axis's full title: the
    advanced tracks, apart from the core layers' radar, each named in words."""
    width, row = 340, 52
    scale = width / MAX_LEVEL
    out = _bars_open(width, max(row * len(axes), row), title, "tracks-title", "radar radar-bars")
    for i, axis in enumerate(axes):
        y = i * row
        out.append(
            f'<text class="radar-label" x="0" y="{y + 13}">{escape(axis.title)}'
            f"<title>self-rated {axis.self_rated}, verified {axis.verified}</title></text>"
        )
        out.append(
            f'<rect class="radar-self" x="0" y="{y + 19}" width="{max(axis.self_rated * scale, 1):.1f}" height="11" rx="3"/>'
        )
        out.append(
            f'<rect class="radar-verified" x="0" y="{y + 32}" width="{max(axis.verified * scale, 1):.1f}" height="11" rx="3"/>'
        )
    out.append("</svg>")
    return "".join(out)


def _bars_svg(axes: list[RadarAxis], *, title: str) -> str:
    width, row = 340, 44
    scale = (width - 60) / MAX_LEVEL
    out = _bars_open(width, max(row * len(axes), row), title, "radar-title", "radar")
    for i, axis in enumerate(axes):
        y = i * row
        out.append(f'<text class="radar-label" x="0" y="{y + 24}">{escape(axis.label)}</text>')
        out.append(
            f'<rect class="radar-self" x="40" y="{y + 8}" width="{axis.self_rated * scale:.1f}" height="12" rx="3"/>'
        )
        out.append(
            f'<rect class="radar-verified" x="40" y="{y + 22}" width="{axis.verified * scale:.1f}" height="12" rx="3"/>'
        )
    out.append("</svg>")
    return "".join(out)


CELL = 11
GAP = 3
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def heatmap_svg(columns: list[list[HeatCell]], *, title: str = "Activity in the last year") -> str:
    """A week-per-column grid of days, darker for busier days; each cell has its count as a tooltip."""
    left, top = 26, 16
    width = left + len(columns) * (CELL + GAP)
    height = top + 7 * (CELL + GAP)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="heatmap" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-labelledby="heatmap-title">',
        f'<title id="heatmap-title">{escape(title)}</title>',
    ]
    for row, name in ((0, "Mon"), (2, "Wed"), (4, "Fri")):
        out.append(f'<text class="heatmap-label" x="0" y="{top + row * (CELL + GAP) + 9}">{name}</text>')
    month = None
    for w, column in enumerate(columns):
        x = left + w * (CELL + GAP)
        if column and column[0].day.month != month:
            month = column[0].day.month
            if w < len(columns) - 2:
                out.append(f'<text class="heatmap-label" x="{x}" y="10">{column[0].day:%b}</text>')
        for d, cell in enumerate(column):
            day = cell.day.isoformat()  # dates and counts need no escaping
            what = f"{cell.count} change{'s' if cell.count != 1 else ''} on {DAY_NAMES[cell.day.weekday()]} {day}"
            out.append(
                f'<rect class="heat-{cell.level}" x="{x}" y="{top + d * (CELL + GAP)}" width="{CELL}" '
                f'height="{CELL}" rx="2" data-day="{day}"><title>{what}</title></rect>'
            )
    out.append("</svg>")
    return "".join(out)
