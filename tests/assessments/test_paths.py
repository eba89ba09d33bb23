from __future__ import annotations

from django.test import TestCase
from django.urls import reverse

from assessments.models import PathFollow
from tests.factories import create_path, create_topic, create_user


class PathFollowTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.user = create_user()
        cls.path = create_path(topics=(create_topic(),))
        cls.url = reverse("assessments:path-follow", args=[cls.path.roadmap.slug, cls.path.slug])

    def setUp(self):
        self.client.force_login(self.user)

    def test_follow_and_unfollow_with_htmx(self):
        response = self.client.post(self.url, {"follow": "1"}, headers={"HX-Request": "true"})
        self.assertContains(response, 'id="path-follow"')
        self.assertContains(response, "Following")
        assert PathFollow.objects.of(self.user).count() == 1

        response = self.client.post(self.url, {"follow": "0"}, headers={"HX-Request": "true"})
        self.assertContains(response, "Follow this path")
        assert not PathFollow.objects.exists()

    def test_following_twice_keeps_one_row(self):
        self.client.post(self.url, {"follow": "1"})
        response = self.client.post(self.url, {"follow": "1"})

        self.assertRedirects(response, self.path.get_absolute_url(), fetch_redirect_response=False)
        assert PathFollow.objects.count() == 1

    def test_my_follow_is_not_anyone_elses(self):
        self.client.post(self.url, {"follow": "1"})
        self.client.force_login(create_user())

        response = self.client.get(self.path.get_absolute_url())

        self.assertContains(response, "Follow this path")
        self.client.post(self.url, {"follow": "0"})
        assert PathFollow.objects.filter(user=self.user).exists()

    def test_a_retired_path_is_404(self):
        path = create_path(topics=(create_topic(),), retired=True)
        url = reverse("assessments:path-follow", args=[path.roadmap.slug, path.slug])
        assert self.client.post(url).status_code == 404
