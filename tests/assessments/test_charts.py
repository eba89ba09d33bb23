from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from datetime import date

from assessments.charts import RadarAxis, bars_svg, heatmap_svg, radar_svg
from assessments.progress import heatmap

SVG = "{http://www.w3.org/2000/svg}"


def axes(n: int) -> list[RadarAxis]:
    return [RadarAxis(str(i), f"Layer {i} <&>", self_rated=i % 7, verified=0) for i in range(n)]


def test_the_radar_is_well_formed_svg_with_one_polygon_per_series():
    root = ET.fromstring(radar_svg(axes(12)))

    assert root.tag == f"{SVG}svg"
    classes = [p.get("class") for p in root.iter(f"{SVG}polygon")]
    assert classes.count("radar-self") == 1
    assert classes.count("radar-verified") == 1
    assert len([c for c in classes if c is None]) == 6  # the rings for levels 1-6
    assert len([t for t in root.iter(f"{SVG}text") if t.get("class") == "radar-label"]) == 12


def test_the_radar_escapes_its_text():
    svg = radar_svg([RadarAxis("<b>", 'x"y', 1, 0), *axes(3)], title="A & B <script>")

    ET.fromstring(svg)
    assert "<script>" not in svg and "<b>" not in svg
    assert "A &amp; B &lt;script&gt;" in svg


def test_a_level_six_reaches_the_outer_ring_and_zero_the_centre():
    root = ET.fromstring(radar_svg([RadarAxis("1", "one", 6, 0), *axes(2)], size=340))

    self_points = next(p for p in root.iter(f"{SVG}polygon") if p.get("class") == "radar-self").get("points")
    verified_points = next(p for p in root.iter(f"{SVG}polygon") if p.get("class") == "radar-verified").get("points")
    assert self_points.split()[0] == "170.0,34.0"  # straight up, radius 136
    assert set(verified_points.split()) == {"170.0,170.0"}


def test_fewer_than_three_layers_are_drawn_as_bars():
    root = ET.fromstring(radar_svg(axes(2)))

    assert not list(root.iter(f"{SVG}polygon"))
    assert len(list(root.iter(f"{SVG}rect"))) == 4


def test_the_heatmap_is_well_formed_with_one_cell_per_day():
    today = date(2026, 3, 18)
    root = ET.fromstring(heatmap_svg(heatmap(Counter({today: 3}), today)))

    cells = list(root.iter(f"{SVG}rect"))
    assert len(cells) == 52 * 7 + today.weekday() + 1
    busiest = [c for c in cells if c.get("data-day") == today.isoformat()]
    assert busiest[0].get("class") == "heat-4"
    assert busiest[0].find(f"{SVG}title").text == "3 changes on Wed 2026-03-18"


def test_the_tracks_chart_names_each_track_in_words_and_escapes_them():

    svg = bars_svg([RadarAxis("A", "Track A: Multimodal <LLMs>", 3, 0)], title="Tracks")

    assert "Track A: Multimodal &lt;LLMs&gt;" in svg and "<LLMs>" not in svg
    assert 'class="radar-self" x="0" y="19" width="170.0"' in svg
