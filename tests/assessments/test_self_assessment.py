from __future__ import annotations

from django.db import IntegrityError, transaction
from django.test import TestCase
from django.urls import reverse

from assessments.models import Activity, SelfAssessment
from tests.factories import create_assessment, create_layer, create_level, create_user


class SelfAssessmentTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = create_user()
        cls.layer = create_layer()
        create_level(roadmap=cls.layer.roadmap, number=2, title="Builder", summary="Builds small systems.")
        cls.url = reverse("assessments:assessment-detail", args=[cls.layer.roadmap.slug, cls.layer.slug])

    def setUp(self):
        self.client.force_login(self.user)

    def test_the_page_shows_the_level_descriptions(self):
        response = self.client.get(self.url)

        self.assertContains(response, "Builder")
        self.assertContains(response, "Builds small systems.")
        self.assertContains(response, 'name="level"', count=7)

    def test_every_change_is_kept_and_the_newest_is_current(self):
        self.client.post(self.url, {"level": "1", "justification": "read about it"})
        self.client.post(self.url, {"level": "3", "justification": "built *it*"})

        history = list(SelfAssessment.objects.of(self.user).filter(layer=self.layer))
        assert [a.level for a in history] == [3, 1]
        assert SelfAssessment.objects.of(self.user).levels() == {self.layer.pk: 3}
        response = self.client.get(self.url)
        self.assertContains(response, "<em>it</em>")
        self.assertContains(response, "read about it")
        assert Activity.objects.filter(verb="assessment").count() == 2

    def test_saving_the_same_rating_again_adds_nothing(self):
        create_assessment(user=self.user, layer=self.layer, level=2, justification="same")

        self.client.post(self.url, {"level": "2", "justification": "same"})

        assert SelfAssessment.objects.count() == 1

    def test_levels_outside_0_to_6_are_refused(self):
        response = self.client.post(self.url, {"level": "7", "justification": ""})

        assert response.status_code == 200
        assert "level" in response.context["form"].errors
        assert not SelfAssessment.objects.exists()
        with self.assertRaises(IntegrityError), transaction.atomic():
            SelfAssessment.objects.create(user=self.user, layer=self.layer, level=9)

    def test_another_learner_sees_only_their_own_history(self):
        create_assessment(user=self.user, layer=self.layer, level=5, justification="my private reasons")
        self.client.force_login(create_user())

        response = self.client.get(self.url)

        self.assertNotContains(response, "my private reasons")
        assert response.context["current"] is None

    def test_a_retired_layer_is_404(self):
        layer = create_layer(retired=True)
        url = reverse("assessments:assessment-detail", args=[layer.roadmap.slug, layer.slug])
        assert self.client.get(url).status_code == 404

    def test_anonymous_visitors_are_sent_to_log_in(self):
        self.client.logout()
        assert self.client.get(self.url).status_code == 302

    def test_a_first_visit_preselects_no_level_and_a_bare_save_records_nothing(self):
        page = self.client.get(self.url)
        self.assertNotContains(page, "checked")

        response = self.client.post(self.url, {"justification": "kept"})

        self.assertContains(response, "Level: pick the level that describes you before saving.")
        self.assertContains(response, "kept")
        assert not SelfAssessment.objects.filter(user=self.user).exists()
