from __future__ import annotations

from django.test import TestCase

from assessments.models import PathFollow
from assessments.progress import next_topics, suggest
from tests.factories import create_layer, create_path, create_progress, create_roadmap, create_topic, create_user

# a -> b -> d, a -> c -> d, e stands alone
ORDER = [1, 2, 3, 4, 5]
EDGES = [(1, 2), (1, 3), (2, 4), (3, 4)]


def test_only_topics_without_prerequisites_are_ready_at_the_start():
    assert suggest(ORDER, EDGES, {}) == [1, 5]


def test_a_done_or_skipped_prerequisite_opens_its_dependents():
    assert suggest(ORDER, EDGES, {1: "done"}) == [2, 3, 5]
    assert suggest(ORDER, EDGES, {1: "skipped"}) == [2, 3, 5]


def test_learning_does_not_close_a_prerequisite_but_stays_suggested():
    assert suggest(ORDER, EDGES, {1: "learning"}) == [1, 5]


def test_a_topic_waits_for_every_prerequisite():
    assert suggest(ORDER, EDGES, {1: "done", 2: "done"}) == [3, 5]
    assert suggest(ORDER, EDGES, {1: "done", 2: "done", 3: "skipped"}) == [4, 5]


def test_closed_topics_are_never_suggested():
    assert suggest(ORDER, EDGES, dict.fromkeys(ORDER, "done")) == []


def test_followed_path_topics_come_first_in_path_order():
    assert suggest(ORDER, EDGES, {1: "done"}, path_steps=[5, 3]) == [5, 3, 2]


def test_a_path_never_lifts_a_topic_with_open_prerequisites():
    assert suggest(ORDER, EDGES, {}, path_steps=[4, 2]) == [1, 5]


def test_prerequisites_outside_the_current_topics_are_ignored():
    # topic 9 is retired (not in order): it neither blocks 2 nor gets suggested
    assert suggest([1, 2], [(9, 2), (1, 2)], {1: "done"}) == [2]


class NextTopicsTests(TestCase):
    def test_it_reads_the_learners_statuses_and_followed_paths(self):
        user = create_user()
        roadmap = create_roadmap()
        first = create_layer(roadmap=roadmap, number=1)
        second = create_layer(roadmap=roadmap, number=2)
        a = create_topic(layer=first, order=1)
        b = create_topic(layer=first, order=2, prerequisites=(a,))
        c = create_topic(layer=second, order=1, prerequisites=(a,))
        d = create_topic(layer=second, order=2)
        create_progress(user=user, topic=a, status="done")
        PathFollow.follow(user, create_path(roadmap=roadmap, topics=(d, c)))
        create_progress(user=create_user(), topic=b, status="done")  # someone else's

        suggestions = next_topics(user, roadmap)

        assert [s.topic for s in suggestions] == [d, c, b]
        assert suggestions[0].path_title and not suggestions[2].path_title

    def test_retired_topics_are_not_suggested(self):
        user = create_user()
        a = create_topic()
        create_topic(layer=a.layer, retired=True)

        assert [s.topic for s in next_topics(user, a.roadmap)] == [a]
