from __future__ import annotations

from django.test import TestCase, override_settings

from tests.factories import create_user


class FaviconTests(TestCase):
    def test_favicon_ico_points_anyone_at_the_svg_icon(self):
        response = self.client.get("/favicon.ico")

        assert response.status_code == 302
        assert response["Location"] == "/static/img/favicon.svg"


class ErrorPageTests(TestCase):
    @override_settings(DEBUG=False)
    def test_a_bad_url_shows_our_404_page_not_djangos(self):
        self.client.force_login(create_user())

        response = self.client.get("/no-such-page/")

        self.assertContains(response, "There is nothing at this address", status_code=404)
        self.assertNotContains(response, "URLconf", status_code=404)
