"""Progress never lost: reloading, renaming, retiring and moving topics keep every learner's rows."""

from __future__ import annotations

from django.test import TestCase

from assessments.models import PersonalLink, SelfAssessment, TopicNote, TopicProgress
from assessments.progress import Progress
from roadmap.content import load
from roadmap.models import Layer, Roadmap, Topic
from tests.factories import create_assessment, create_link, create_note, create_progress, create_user
from tests.roadmap.test_loader import ContentDir, layer_data, roadmap_data, topic


class ProgressKeptTests(TestCase):
    def setUp(self):
        self.content = ContentDir()
        self.addCleanup(self.content.cleanup)
        load(self.content.root)
        self.ada, self.bo = create_user(), create_user()
        self.beta = Topic.objects.get(slug="beta")
        self.delta = Topic.objects.get(slug="delta")
        for user in (self.ada, self.bo):
            create_progress(user=user, topic=self.beta, status="done", confidence=4)
            create_progress(user=user, topic=self.delta, status="learning", confidence=2)
        create_assessment(user=self.ada, layer=Layer.objects.get(slug="basics"), level=3)
        create_note(user=self.ada, topic=self.beta, body="beta notes")
        create_link(user=self.ada, topic=self.delta)
        self.before = self.snapshot()

    def snapshot(self) -> list[tuple[object, ...]]:
        return sorted(TopicProgress.objects.values_list("user_id", "topic_id", "status", "confidence"))

    def assert_nothing_lost(self) -> None:
        assert self.snapshot() == self.before
        assert SelfAssessment.objects.get().level == 3
        assert TopicNote.objects.get().topic_id == self.beta.pk
        assert PersonalLink.objects.get().topic_id == self.delta.pk

    def test_reloading_the_same_content(self):
        load(self.content.root)

        self.assert_nothing_lost()

    def test_renaming_a_topic(self):
        self.content.write(
            roadmap_data(),
            [
                layer_data(1, "basics", [topic("alpha"), topic("beta", "alpha", title="Beta, now renamed")]),
                layer_data(
                    2, "more", [topic("gamma", "beta"), topic("delta", "gamma", "alpha")], gate=None, kind="tier"
                ),
            ],
        )

        load(self.content.root)

        self.assert_nothing_lost()
        assert Topic.objects.get(pk=self.beta.pk).title == "Beta, now renamed"

    def test_retiring_a_topic_keeps_its_rows_out_of_the_counts(self):
        self.content.write(
            roadmap_data(),
            [
                layer_data(1, "basics", [topic("alpha"), topic("beta", "alpha")]),
                layer_data(2, "more", [topic("gamma", "beta")], gate=None, kind="tier"),
            ],
        )

        load(self.content.root)

        self.assert_nothing_lost()
        assert Topic.objects.get(pk=self.delta.pk).retired
        progress = Progress.load(self.ada, Roadmap.objects.get())
        assert progress.state(self.delta.pk).status == "learning"
        assert progress.overall.learning == 0  # not counted while retired
        self.client.force_login(self.ada)
        page = self.client.get(self.delta.get_absolute_url())
        self.assertContains(page, "has been retired")
        self.assertContains(page, 'id="status-delta-learning" name="status" value="not_started"')

    def test_a_retired_topic_that_comes_back_brings_its_progress(self):
        self.content.write(
            roadmap_data(),
            [layer_data(1, "basics", [topic("alpha"), topic("beta", "alpha")])],
        )
        load(self.content.root)
        self.content.write(*self.original())

        load(self.content.root)

        self.assert_nothing_lost()
        assert Progress.load(self.ada, Roadmap.objects.get()).overall.learning == 1

    def test_moving_a_topic_to_another_layer_moves_its_count(self):
        self.content.write(
            roadmap_data(),
            [
                layer_data(1, "basics", [topic("alpha")]),
                layer_data(
                    2,
                    "more",
                    [topic("beta", "alpha"), topic("gamma", "beta"), topic("delta", "gamma")],
                    gate=None,
                    kind="tier",
                ),
            ],
        )

        load(self.content.root)

        self.assert_nothing_lost()
        more = Layer.objects.get(slug="more")
        assert Topic.objects.get(pk=self.beta.pk).layer == more
        progress = Progress.load(self.ada, Roadmap.objects.get())
        assert progress.layer(more.pk).done == 1
        assert progress.layer(Layer.objects.get(slug="basics").pk).done == 0

    def original(self) -> tuple[dict[str, object], list[dict[str, object]]]:
        return (
            roadmap_data(),
            [
                layer_data(1, "basics", [topic("alpha"), topic("beta", "alpha")]),
                layer_data(
                    2, "more", [topic("gamma", "beta"), topic("delta", "gamma", "alpha")], gate=None, kind="tier"
                ),
            ],
        )
