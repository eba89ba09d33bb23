from __future__ import annotations

from django.test import TestCase

from roadmap.models import ArtifactSpec, EvaluationGate, Layer, LearningPath, Roadmap, Topic
from tests.factories import (
    create_artifact_spec,
    create_gate,
    create_layer,
    create_path,
    create_roadmap,
    create_topic,
)


class LookupTests(TestCase):
    """The QuerySet methods that web pages, the API and the other apps look curriculum rows up with."""

    @classmethod
    def setUpTestData(cls):
        cls.roadmap = create_roadmap(slug="main")
        cls.layer = create_layer(roadmap=cls.roadmap, slug="basics")
        cls.old_layer = create_layer(roadmap=cls.roadmap, slug="old", retired=True)
        cls.topic = create_topic(layer=cls.layer, slug="alpha")
        cls.retired_topic = create_topic(layer=cls.layer, slug="gone", retired=True)
        cls.gate = create_gate(layer=cls.layer)
        create_gate(layer=cls.old_layer)
        cls.retired_roadmap = create_roadmap(slug="past", retired=True)
        create_topic(layer=create_layer(roadmap=cls.retired_roadmap, slug="basics"), slug="alpha")
        create_gate(layer=cls.retired_roadmap.layers.get())

    def test_topics_in_a_roadmap_by_slug_keep_retired_topics_of_a_current_roadmap_only(self):
        found = Topic.objects.in_roadmap("main")

        assert set(found) == {self.topic, self.retired_topic}
        assert Topic.objects.in_roadmap("main").get(slug="alpha") == self.topic
        assert not Topic.objects.in_roadmap("past").exists()
        assert list(Topic.objects.in_roadmap("main").current()) == [self.topic]

    def test_topics_in_a_roadmap_given_as_a_row(self):
        assert set(Topic.objects.in_roadmap(self.roadmap)) == {self.topic, self.retired_topic}
        assert Topic.objects.in_roadmap(self.retired_roadmap).count() == 1

    def test_layers_and_specs_in_a_roadmap_by_slug(self):
        spec = create_artifact_spec(roadmap=self.roadmap)

        assert set(Layer.objects.in_roadmap("main")) == {self.layer, self.old_layer}
        assert list(ArtifactSpec.objects.in_roadmap("main")) == [spec]
        assert not Layer.objects.in_roadmap("past").exists()

    def test_the_gate_of_a_layer_by_slugs(self):
        assert EvaluationGate.objects.for_layer("main", "basics").get() == self.gate
        assert not EvaluationGate.objects.for_layer("main", "old").exists()
        assert not EvaluationGate.objects.for_layer("past", "basics").exists()
        assert not EvaluationGate.objects.for_layer("main", "nowhere").exists()

    def test_a_retired_gate_is_found_until_current_is_asked_for(self):
        EvaluationGate.objects.filter(pk=self.gate.pk).update(retired=True)

        assert EvaluationGate.objects.for_layer("main", "basics").exists()
        assert not EvaluationGate.objects.current().for_layer("main", "basics").exists()

    def test_a_layer_shows_its_gate_unless_it_is_retired(self):
        assert Layer.objects.get(pk=self.layer.pk).current_gate == self.gate
        EvaluationGate.objects.filter(pk=self.gate.pk).update(retired=True)

        assert Layer.objects.get(pk=self.layer.pk).current_gate is None
        assert create_layer(roadmap=self.roadmap).current_gate is None

    def test_roadmap_counts_leave_out_retired_layers_and_topics(self):
        roadmap = Roadmap.objects.with_counts().get(slug="main")

        assert (roadmap.layer_count, roadmap.topic_count) == (1, 1)

    def test_a_layer_counts_its_current_topics(self):
        layer = self.roadmap.layers.with_topic_count().get(slug="basics")

        assert layer.topic_count == 1

    def test_a_path_counts_its_steps(self):
        create_path(roadmap=self.roadmap, slug="start", topics=(self.topic, self.retired_topic))

        assert LearningPath.objects.with_step_count().get(slug="start").step_count == 2
