"""Server-side SVG line charts for benchmark results: latency percentiles and throughput.

No JavaScript library: the page gets a finished `<svg>`. Colours and line styles come from CSS
classes (static/css/app.css: `.chart ...`), so a chart follows the light and dark themes. Every
piece of text is escaped here, so the result can be marked safe, and every chart is a
well-formed XML document (the tests parse them with ElementTree).

The x axis is categorical: the categories (concurrency levels, or the entries of an upload) are
evenly spaced and labelled with their values, as benchmark plots usually are, so 1, 2, 4 ... 64
stay readable; a series may miss a category (None), and its line then skips it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

WIDTH = 420
PLOT_LEFT = 62
PLOT_RIGHT = 14
PLOT_TOP = 34
PLOT_HEIGHT = 180
LEGEND_ROW = 18
LEGEND_COLUMNS = 2


@dataclass(frozen=True)
class Series:
    """One line: a value per category (None where it has none)."""

    label: str
    values: list[float | None]
    css: str  # colour class, e.g. "c-p50"
    dash: str = ""  # "" solid, "dashed", "dotted": the run it belongs to
    title: str = ""  # tooltip text for the points (the label when empty)


@dataclass(frozen=True)
class Chart:
    title: str
    y_label: str
    x_label: str
    categories: list[str]
    series: list[Series] = field(default_factory=list)
    connect: bool = True  # False: points only (categories that are not an ordered scale)

    def svg(self) -> str:
        return line_chart(self)


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 x 10^k not below value (the top of the y axis)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        top = step * 10**exponent
        if top >= value * (1 - 1e-12):
            return float(top)
    return float(10 ** (exponent + 1))


def tick_label(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:g}"


def _fmt(value: float) -> str:
    return f"{value:.1f}"


# The tick labels' font (app.css: .chart-tick, 11px) measured in viewBox units: an average glyph of
# a digit-heavy label is about 0.6 em wide; LABEL_GAP keeps neighbours apart.
TICK_GLYPH_WIDTH = 6.6
LABEL_GAP = 8.0


def label_step(categories: list[str], spacing: float) -> int:
    """Label every k-th category so that no two labels overlap: k = 1 when they all fit. Every
    category keeps its tick mark, and each point's tooltip names its category."""
    widest = max((len(c) for c in categories), default=0) * TICK_GLYPH_WIDTH
    if spacing <= 0 or widest + LABEL_GAP <= spacing:
        return 1
    return math.ceil((widest + LABEL_GAP) / spacing)


def line_chart(chart: Chart) -> str:
    n = len(chart.categories)
    values = [v for s in chart.series for v in s.values if v is not None and math.isfinite(v)]
    top = nice_ceiling(max(values) if values else 1.0)
    ticks = [top * i / 4 for i in range(5)]
    plot_width = WIDTH - PLOT_LEFT - PLOT_RIGHT
    legend_rows = math.ceil(len(chart.series) / LEGEND_COLUMNS)
    height = PLOT_TOP + PLOT_HEIGHT + 46 + legend_rows * LEGEND_ROW + 6
    bottom = PLOT_TOP + PLOT_HEIGHT

    def x_at(i: int) -> float:
        if n <= 1:
            return PLOT_LEFT + plot_width / 2
        pad = plot_width / (2 * n)
        return PLOT_LEFT + pad + i * (plot_width - 2 * pad) / (n - 1)

    def y_at(v: float) -> float:
        return bottom - (v / top) * PLOT_HEIGHT

    out = [*_opening(chart.title, height), '<g class="chart-grid">']
    for tick in ticks:
        y = _fmt(y_at(tick))
        out.append(f'<line x1="{PLOT_LEFT}" y1="{y}" x2="{WIDTH - PLOT_RIGHT}" y2="{y}"/>')
    out.append("</g>")
    out.append('<g class="chart-axis">')
    out.append(f'<line x1="{PLOT_LEFT}" y1="{bottom}" x2="{WIDTH - PLOT_RIGHT}" y2="{bottom}"/>')
    out.append(f'<line x1="{PLOT_LEFT}" y1="{PLOT_TOP}" x2="{PLOT_LEFT}" y2="{bottom}"/>')
    out.append("</g>")
    for tick in ticks:
        out.append(
            f'<text class="chart-tick" x="{PLOT_LEFT - 6}" y="{_fmt(y_at(tick) + 4)}" text-anchor="end">'
            f"{escape(tick_label(tick))}</text>"
        )
    every = label_step(chart.categories, (x_at(1) - x_at(0)) if n > 1 else plot_width)
    for i, category in enumerate(chart.categories):
        x = _fmt(x_at(i))
        out.append(f'<line class="chart-tickmark" x1="{x}" y1="{bottom}" x2="{x}" y2="{bottom + 4}"/>')
        if i % every == 0:
            out.append(
                f'<text class="chart-tick" x="{x}" y="{bottom + 17}" text-anchor="middle">{escape(category)}</text>'
            )
    out += _axis_labels(chart.x_label, chart.y_label)
    for series in chart.series:
        classes = " ".join(c for c in ("chart-series", series.css, series.dash) if c)
        out.append(f'<g class="{escape(classes)}">')
        points = [(i, v) for i, v in enumerate(series.values) if v is not None and math.isfinite(v)]
        if chart.connect and len(points) > 1:
            path = " ".join(
                f"{'M' if k == 0 else 'L'}{_fmt(x_at(i))},{_fmt(y_at(v))}" for k, (i, v) in enumerate(points)
            )
            out.append(f'<path d="{path}"/>')
        for i, v in points:
            tip = f"{series.title or series.label}: {chart.categories[i]} → {tick_label_exact(v)}"
            out.append(f'<circle cx="{_fmt(x_at(i))}" cy="{_fmt(y_at(v))}" r="3"><title>{escape(tip)}</title></circle>')
        out.append("</g>")
    legend_top = bottom + 52
    column_width = (WIDTH - PLOT_LEFT) / LEGEND_COLUMNS
    for k, series in enumerate(chart.series):
        x = PLOT_LEFT + (k % LEGEND_COLUMNS) * column_width
        y = legend_top + (k // LEGEND_COLUMNS) * LEGEND_ROW
        classes = " ".join(c for c in ("chart-series", series.css, series.dash) if c)
        out.append(
            f'<g class="{escape(classes)} chart-legend-item">'
            f'<line x1="{_fmt(x)}" y1="{_fmt(y - 4)}" x2="{_fmt(x + 22)}" y2="{_fmt(y - 4)}"/>'
            f'<circle cx="{_fmt(x + 11)}" cy="{_fmt(y - 4)}" r="2.5"/>'
            f'<text class="chart-legend" x="{_fmt(x + 28)}" y="{_fmt(y)}">{escape(series.label)}</text></g>'
        )
    out.append("</svg>")
    return "".join(out)


def _opening(title: str, height: int) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-label={quoteattr(title)}>',
        f"<title>{escape(title)}</title>",
        f'<text class="chart-title" x="{PLOT_LEFT}" y="18">{escape(title)}</text>',
    ]


def _axis_labels(x_label: str, y_label: str) -> list[str]:
    plot_width = WIDTH - PLOT_LEFT - PLOT_RIGHT
    bottom = PLOT_TOP + PLOT_HEIGHT
    mid = _fmt(PLOT_TOP + PLOT_HEIGHT / 2)
    return [
        f'<text class="chart-axis-label" x="{_fmt(PLOT_LEFT + plot_width / 2)}" y="{bottom + 36}" '
        f'text-anchor="middle">{escape(x_label)}</text>',
        f'<text class="chart-axis-label" x="14" y="{mid}" text-anchor="middle" '
        f'transform="rotate(-90 14 {mid})">{escape(y_label)}</text>',
    ]


def tick_label_exact(value: float) -> str:
    return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"


# --- charts over a numeric x axis: sweep curves, distributions, the timeline -------------------


@dataclass(frozen=True)
class XYSeries:
    """A line through (x, y) points; ``band`` gives (low, high) per point for an interval band."""

    label: str
    points: list[tuple[float, float]]
    css: str
    band: list[tuple[float, float] | None] = field(default_factory=list)
    step: bool = False  # a step line (counts over time) rather than straight segments
    markers: bool = True


@dataclass(frozen=True)
class XYChart:
    title: str
    y_label: str
    x_label: str
    series: list[XYSeries] = field(default_factory=list)
    hline: tuple[float, str] | None = None  # (y, label): a limit such as an SLA
    vline: tuple[float, str] | None = None  # (x, label): an answer such as the highest passing rate

    def svg(self) -> str:
        return xy_chart(self)


def xy_chart(chart: XYChart) -> str:
    xs = [x for s in chart.series for x, _ in s.points if math.isfinite(x)]
    ys = [y for s in chart.series for _, y in s.points if math.isfinite(y)]
    ys += [hi for s in chart.series for b in s.band if b for hi in b[1:] if math.isfinite(hi)]
    if chart.hline:
        ys.append(chart.hline[0])
    x_top = nice_ceiling(max(xs) if xs else 1.0)
    y_top = nice_ceiling(max(ys) if ys else 1.0)
    plot_width = WIDTH - PLOT_LEFT - PLOT_RIGHT
    legend_rows = math.ceil((len(chart.series) + bool(chart.hline)) / LEGEND_COLUMNS)
    height = PLOT_TOP + PLOT_HEIGHT + 46 + legend_rows * LEGEND_ROW + 6
    bottom = PLOT_TOP + PLOT_HEIGHT

    def x_at(v: float) -> float:
        return PLOT_LEFT + (v / x_top) * plot_width

    def y_at(v: float) -> float:
        return bottom - (v / y_top) * PLOT_HEIGHT

    out = [*_opening(chart.title, height), '<g class="chart-grid">']
    for i in range(5):
        y = _fmt(y_at(y_top * i / 4))
        out.append(f'<line x1="{PLOT_LEFT}" y1="{y}" x2="{WIDTH - PLOT_RIGHT}" y2="{y}"/>')
    out.append("</g>")
    out.append(
        f'<g class="chart-axis"><line x1="{PLOT_LEFT}" y1="{bottom}" x2="{WIDTH - PLOT_RIGHT}" y2="{bottom}"/>'
        f'<line x1="{PLOT_LEFT}" y1="{PLOT_TOP}" x2="{PLOT_LEFT}" y2="{bottom}"/></g>'
    )
    for i in range(5):
        ty, tx = y_top * i / 4, x_top * i / 4
        out.append(
            f'<text class="chart-tick" x="{PLOT_LEFT - 6}" y="{_fmt(y_at(ty) + 4)}" text-anchor="end">{escape(tick_label(ty))}</text>'
            f'<text class="chart-tick" x="{_fmt(x_at(tx))}" y="{bottom + 17}" text-anchor="middle">{escape(tick_label(tx))}</text>'
        )
    out += _axis_labels(chart.x_label, chart.y_label)
    for series in chart.series:
        out.append(f'<g class="chart-series {escape(series.css)}">')
        banded = [(x, b) for (x, _), b in zip(series.points, series.band, strict=False) if b is not None]
        if len(banded) > 1:
            upper = " ".join(f"{_fmt(x_at(x))},{_fmt(y_at(b[1]))}" for x, b in banded)
            lower = " ".join(f"{_fmt(x_at(x))},{_fmt(y_at(b[0]))}" for x, b in reversed(banded))
            out.append(f'<polygon class="chart-band" points="{upper} {lower}"/>')
        for x, b in banded:
            out.append(
                f'<line class="chart-whisker" x1="{_fmt(x_at(x))}" y1="{_fmt(y_at(b[0]))}" '
                f'x2="{_fmt(x_at(x))}" y2="{_fmt(y_at(b[1]))}"/>'
            )
        pts = [(x, y) for x, y in series.points if math.isfinite(x) and math.isfinite(y)]
        if len(pts) > 1:
            segments = []
            for k, (x, y) in enumerate(pts):
                if k and series.step:
                    segments.append(f"L{_fmt(x_at(x))},{_fmt(y_at(pts[k - 1][1]))}")
                segments.append(f"{'M' if k == 0 else 'L'}{_fmt(x_at(x))},{_fmt(y_at(y))}")
            out.append(f'<path d="{" ".join(segments)}"/>')
        if series.markers:
            for x, y in pts:
                tip = f"{series.label}: {tick_label_exact(x)} → {tick_label_exact(y)}"
                out.append(
                    f'<circle cx="{_fmt(x_at(x))}" cy="{_fmt(y_at(y))}" r="3"><title>{escape(tip)}</title></circle>'
                )
        out.append("</g>")
    if chart.hline:
        y = _fmt(y_at(chart.hline[0]))
        out.append(f'<line class="chart-limit" x1="{PLOT_LEFT}" y1="{y}" x2="{WIDTH - PLOT_RIGHT}" y2="{y}"/>')
    if chart.vline:
        x = _fmt(x_at(chart.vline[0]))
        out.append(
            f'<line class="chart-limit chart-answer" x1="{x}" y1="{PLOT_TOP}" x2="{x}" y2="{bottom}"><title>{escape(chart.vline[1])}</title></line>'
        )
    legend_top = bottom + 52
    column_width = (WIDTH - PLOT_LEFT) / LEGEND_COLUMNS
    items = [(s.label, f"chart-series {s.css}") for s in chart.series]
    if chart.hline:
        items.append((chart.hline[1], "chart-limit-legend"))
    for k, (label, classes) in enumerate(items):
        x = PLOT_LEFT + (k % LEGEND_COLUMNS) * column_width
        y = legend_top + (k // LEGEND_COLUMNS) * LEGEND_ROW
        out.append(
            f'<g class="{escape(classes)} chart-legend-item">'
            f'<line x1="{_fmt(x)}" y1="{_fmt(y - 4)}" x2="{_fmt(x + 22)}" y2="{_fmt(y - 4)}"/>'
            f'<text class="chart-legend" x="{_fmt(x + 28)}" y="{_fmt(y)}">{escape(label)}</text></g>'
        )
    out.append("</svg>")
    return "".join(out)
