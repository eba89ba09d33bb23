"""The SVG line charts: well-formed XML, escaped text, honest axes."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from django.test import SimpleTestCase

from portfolio import charts
from portfolio.charts import Chart, Series, nice_ceiling

SVG = "{http://www.w3.org/2000/svg}"


class LineChartTests(SimpleTestCase):
    def test_text_is_escaped_and_the_document_parses(self):
        hostile = '<script>alert("x")</script> & </svg>'
        chart = Chart(hostile, "ms <y>", "x & y", ["1", "<2>"], [Series(hostile, [1.0, 2.0], "c-p50")])
        root = ET.fromstring(chart.svg())
        assert root.tag == f"{SVG}svg" and root.find(f"{SVG}title").text == hostile
        texts = [t.text for t in root.iter(f"{SVG}text")]
        assert hostile in texts and "<2>" in texts and "ms <y>" in texts
        assert "<script>" not in chart.svg()

    def test_the_y_axis_starts_at_zero_and_ends_on_a_round_number_above_the_data(self):
        root = ET.fromstring(Chart("t", "ms", "c", ["1", "2"], [Series("s", [3.2, 73.0], "c-p50")]).svg())
        ticks = [
            t.text for t in root.iter(f"{SVG}text") if t.get("class") == "chart-tick" and t.get("text-anchor") == "end"
        ]
        assert ticks == ["0", "25", "50", "75", "100"]
        assert [nice_ceiling(v) for v in (0.0, 0.7, 1.0, 3.2, 7.3, 11, 240, 999)] == [
            1.0,
            1.0,
            1.0,
            5.0,
            10.0,
            20.0,
            250.0,
            1000.0,
        ]

    def test_a_missing_value_leaves_a_gap_and_points_only_charts_draw_no_lines(self):
        line = ET.fromstring(Chart("t", "ms", "c", ["1", "2", "4"], [Series("s", [1.0, None, 3.0], "c-p50")]).svg())
        series = next(g for g in line.iter(f"{SVG}g") if g.get("class") == "chart-series c-p50")
        assert len(series.findall(f"{SVG}circle")) == 2 and series.find(f"{SVG}path").get("d").count("L") == 1
        dots = ET.fromstring(Chart("t", "ms", "c", ["a", "b"], [Series("s", [1.0, 2.0], "c-p50")], connect=False).svg())
        assert not list(dots.iter(f"{SVG}path"))

    def test_the_earlier_run_is_dashed_in_the_lines_and_the_legend(self):
        chart = Chart(
            "t", "ms", "c", ["1"], [Series("now", [1.0], "c-p50"), Series("before", [2.0], "c-p50", "dashed")]
        )
        root = ET.fromstring(chart.svg())
        dashed = [g for g in root.iter(f"{SVG}g") if "dashed" in (g.get("class") or "")]
        assert len(dashed) == 2  # the series and its legend entry


class TickLabelTests(SimpleTestCase):
    def test_many_long_categories_are_labelled_every_kth_without_overlap(self):
        categories = [f"{rate / 2:.1f} req/s" for rate in range(1, 13)]
        root = ET.fromstring(Chart("t", "ms", "rate", categories, [Series("s", [1.0] * 12, "c-p50")]).svg())
        ticks = [t for t in root.iter("{http://www.w3.org/2000/svg}text") if t.get("class") == "chart-tick"]
        labels = [t for t in ticks if t.text in categories]
        self.assertLess(len(labels), len(categories))
        self.assertEqual(labels[0].text, categories[0])
        xs = [float(t.get("x")) for t in labels]
        widest = max(len(c) for c in categories) * charts.TICK_GLYPH_WIDTH
        self.assertTrue(all(b - a >= widest for a, b in zip(xs, xs[1:], strict=False)), xs)
        marks = [m for m in root.iter("{http://www.w3.org/2000/svg}line") if m.get("class") == "chart-tickmark"]
        self.assertEqual(len(marks), len(categories))

    def test_a_few_short_categories_are_all_labelled(self):
        root = ET.fromstring(Chart("t", "ms", "c", ["1", "2", "4"], [Series("s", [1.0, 2.0, 3.0], "c-p50")]).svg())
        texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
        self.assertLessEqual({"1", "2", "4"}, texts)
