"""Every page carries a Content-Security-Policy whose nonce is on our script tags, a
Referrer-Policy and a Permissions-Policy; Markdown shows images from other sites as links."""

from __future__ import annotations

import re

from django.test import TestCase
from django.urls import reverse

from roadmap.markdown import render_markdown
from tests.factories import create_note, create_roadmap, create_user


class SecurityHeaderTests(TestCase):
    def setUp(self) -> None:
        self.user = create_user()
        create_roadmap(slug="llm")

    def assert_protected(self, path: str) -> None:
        response = self.client.get(path)
        assert response.status_code in (200, 404), (path, response.status_code)
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "object-src 'none'" in policy
        assert "frame-ancestors 'none'" in policy and "img-src 'self' data:" in policy
        nonce = re.search(r"'nonce-([^']+)'", policy)
        assert nonce, policy
        html = response.content.decode()
        # Each script tag is either our own file or carries this response's nonce; none is inline.
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag, (path, tag)
        assert f'nonce="{nonce.group(1)}"' in html, path  # the htmx tag
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert "camera=()" in response.headers["Permissions-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"

    def test_public_pages_carry_the_policy(self):
        for path in (reverse("roadmap:roadmap-list"), reverse("accounts:login"), "/no-such-page/"):
            self.assert_protected(path)

    def test_private_pages_carry_the_policy(self):
        self.client.force_login(self.user)
        for path in (reverse("assessments:dashboard"), reverse("accounts:profile")):
            self.assert_protected(path)

    def test_the_nonce_changes_with_every_response(self):
        one = self.client.get(reverse("accounts:login")).headers["Content-Security-Policy"]
        two = self.client.get(reverse("accounts:login")).headers["Content-Security-Policy"]
        assert one != two


class MarkdownImageTests(TestCase):
    def test_images_from_other_sites_become_links_and_our_own_stay_images(self):
        html = render_markdown(
            "![chart](https://tracker.example/p.png) ![ours](/static/img/favicon.svg) "
            '<img src="//tracker.example/q.gif"> <img src="http://tracker.example/r" alt="r">'
        )
        assert "<img" in html and 'src="/static/img/favicon.svg"' in html
        assert html.count("<img") == 1
        assert '<a href="https://tracker.example/p.png" rel="noopener noreferrer nofollow">chart</a>' in html
        assert 'href="//tracker.example/q.gif"' in html and 'href="http://tracker.example/r"' in html

    def test_a_note_with_an_external_image_renders_it_as_a_link(self):
        note = create_note(body="![pixel](https://tracker.example/pixel.gif)")
        self.client.force_login(note.user)
        response = self.client.get(
            reverse("roadmap:topic-detail", args=[note.topic.layer.roadmap.slug, note.topic.slug])
        )
        assert response.status_code == 200
        assert b'<img alt="pixel"' not in response.content and b"https://tracker.example/pixel.gif" in response.content
