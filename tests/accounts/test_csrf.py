"""CSRF on htmx posts: a POST without the token is refused; htmx sends the token in the header
that <body hx-headers> sets once for the whole page, and that is enough."""

from __future__ import annotations

import json
import re

from django.test import Client, TestCase
from django.urls import reverse

from accounts.models import ApiToken
from tests.factories import create_path, create_topic, create_user


def body_hx_headers(html: str) -> dict[str, str]:
    match = re.search(r"<body hx-headers='([^']*)'", html)
    assert match, "the page has no <body hx-headers>"
    return json.loads(match.group(1))


class HtmxCsrfTests(TestCase):
    def setUp(self) -> None:
        self.user = create_user()
        self.browser = Client(enforce_csrf_checks=True)
        self.browser.force_login(self.user)

    def token_from(self, url: str) -> str:
        """What htmx would send: the header named in the page's <body hx-headers>."""
        page = self.browser.get(url)
        assert page.status_code == 200
        headers = body_hx_headers(page.content.decode())
        assert list(headers) == ["x-csrftoken"]
        return headers["x-csrftoken"]

    def test_an_htmx_post_without_the_token_is_refused(self):
        self.token_from(reverse("accounts:profile"))  # the CSRF cookie is set, as in a browser
        response = self.browser.post(reverse("accounts:token-create"), {"name": "CI"}, headers={"HX-Request": "true"})
        assert response.status_code == 403
        assert not ApiToken.objects.exists()

    def test_an_htmx_post_with_the_header_from_body_hx_headers_succeeds(self):
        token = self.token_from(reverse("accounts:profile"))
        response = self.browser.post(
            reverse("accounts:token-create"),
            {"name": "CI"},
            headers={"HX-Request": "true", "X-CSRFToken": token},
        )
        assert response.status_code == 200
        self.assertContains(response, 'id="api-tokens"')
        assert ApiToken.objects.get().user == self.user

    def test_a_token_from_another_session_is_refused(self):
        other = Client(enforce_csrf_checks=True)
        other.force_login(create_user())
        stolen = body_hx_headers(other.get(reverse("accounts:profile")).content.decode())["x-csrftoken"]
        self.token_from(reverse("accounts:profile"))
        response = self.browser.post(
            reverse("accounts:token-create"), {"name": "CI"}, headers={"HX-Request": "true", "X-CSRFToken": stolen}
        )
        assert response.status_code == 403

    def test_following_a_path_over_htmx_needs_the_header_too(self):
        topic = create_topic()
        path = create_path(roadmap=topic.roadmap, topics=(topic,))
        url = reverse("assessments:path-follow", args=[path.roadmap.slug, path.slug])
        token = self.token_from(reverse("accounts:profile"))

        refused = self.browser.post(url, {"follow": "1"}, headers={"HX-Request": "true"})
        accepted = self.browser.post(url, {"follow": "1"}, headers={"HX-Request": "true", "X-CSRFToken": token})

        assert refused.status_code == 403
        assert accepted.status_code == 200 and b"Following" in accepted.content

    def test_the_api_uses_tokens_not_cookies_so_it_needs_no_csrf_token(self):
        _, raw = ApiToken.issue(self.user, "script")
        api = Client(enforce_csrf_checks=True)
        response = api.post(
            "/api/v1/artifacts",
            json.dumps({"title": "Notes"}),
            content_type="application/json",
            headers={"Authorization": f"Bearer {raw}"},
        )
        assert response.status_code == 201

    def test_a_logged_in_session_cannot_use_the_api_without_a_token(self):
        response = self.browser.post(
            "/api/v1/artifacts", json.dumps({"title": "Notes"}), content_type="application/json"
        )
        assert response.status_code == 401
