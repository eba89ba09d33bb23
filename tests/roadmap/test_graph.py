from __future__ import annotations

import xml.etree.ElementTree as ET
from itertools import combinations

from roadmap.graph import NODE_H, NODE_W, GraphLane, GraphTopic, layout, render_svg

SVG = "{http://www.w3.org/2000/svg}"


def make_graph(n_lanes: int, per_lane: int) -> tuple[list[GraphLane], list[GraphTopic]]:
    lanes = [GraphLane(pk=i, label=f"Layer {i}", title=f"Lane & {i}", url=f"/l/{i}/") for i in range(n_lanes)]
    topics = []
    pk = 0
    for lane in lanes:
        for j in range(per_lane):
            prereqs = (pk - 1,) if pk else ()
            if j >= 2:
                prereqs += (pk - 2,)
            topics.append(
                GraphTopic(
                    pk,
                    f"t{pk}",
                    f"Topic <{pk}> with a long title that must wrap",
                    f"/t/{pk}/",
                    lane.pk,
                    j,
                    prereqs,
                )
            )
            pk += 1
    return lanes, topics


def test_the_svg_is_well_formed_with_a_link_and_box_per_topic():
    lanes, topics = make_graph(15, 11)  # 165 topics

    svg = render_svg(lanes, topics, statuses={0: "done", 1: "learning"})
    root = ET.fromstring(svg)

    nodes = root.findall(f"{SVG}a[@class]")
    topic_nodes = [n for n in nodes if "graph-node" in n.get("class", "")]
    assert len(topic_nodes) == 165
    assert topic_nodes[0].get("href") == "/t/0/"
    assert "status-done" in topic_nodes[0].get("class")
    assert "status-not_started" in topic_nodes[5].get("class")
    edges = root.findall(f"{SVG}g[@class='graph-edges']/{SVG}path")
    assert len(edges) == sum(len(t.prerequisites) for t in topics)


def test_text_is_escaped():
    lanes, topics = make_graph(1, 2)

    svg = render_svg(lanes, topics)

    assert "<0>" not in svg
    assert "&lt;0&gt;" in svg
    assert "Lane &amp; 0" in svg


def test_no_two_topics_overlap_and_every_topic_is_inside_the_picture():
    lanes, topics = make_graph(15, 11)

    _, placed, width, height = layout(lanes, topics)

    for p in placed:
        assert p.x >= 0 and p.x + NODE_W <= width
        assert p.y >= 0 and p.y + NODE_H <= height
    for a, b in combinations(placed, 2):
        assert a.x + NODE_W <= b.x or b.x + NODE_W <= a.x or a.y + NODE_H <= b.y or b.y + NODE_H <= a.y


def test_prerequisites_in_a_lane_come_first_in_reading_order():
    lanes = [GraphLane(1, "L", "L", "/")]
    # Declared in the reverse of their dependency order.
    topics = [
        GraphTopic(3, "c", "C", "/c", 1, 0, (2,)),
        GraphTopic(2, "b", "B", "/b", 1, 1, (1,)),
        GraphTopic(1, "a", "A", "/a", 1, 2, ()),
    ]

    _, placed, _, _ = layout(lanes, topics)

    order = [p.topic.slug for p in sorted(placed, key=lambda p: (p.y, p.x))]
    assert order == ["a", "b", "c"]
