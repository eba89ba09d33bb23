"""Markdown to safe HTML. Every piece of Markdown shown on a page goes through here."""

from __future__ import annotations

import html as html_lib
import re
from functools import lru_cache

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe

EXTENSIONS = ["fenced_code", "tables", "sane_lists", "smarty"]
ALLOWED_TAGS = nh3.ALLOWED_TAGS | {
    "pre",
    "code",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "img",
    "del",
    "sup",
    "sub",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "code": {"class"},
    "th": {"align"},
    "td": {"align"},
}


@lru_cache(maxsize=2048)
def render_markdown(source: str) -> SafeString:
    """Render Markdown and strip everything that could run script or restyle the page.

    Python-Markdown passes raw HTML through, so the sanitiser is what makes this safe.
    """
    if not source:
        return mark_safe("")
    html = markdown.markdown(source, extensions=EXTENSIONS, output_format="html")
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(_external_images_as_links(clean))  # noqa: S308 - nh3 has just sanitised it


_IMG = re.compile(r"<img\b[^>]*>")
_ATTRIBUTE = re.compile(r'(\w+)="([^"]*)"')


def _external_images_as_links(clean: str) -> str:
    """An image from another site would tell that site who reads the page (and the page's CSP
    refuses it anyway): show it as a link to the image instead. Only our own paths stay images.
    Works on nh3's output, whose attributes are always double-quoted with quotes escaped."""

    def replace(match: re.Match[str]) -> str:
        attributes = dict(_ATTRIBUTE.findall(match.group(0)))
        src = html_lib.unescape(attributes.get("src", ""))
        if src.startswith("/") and not src.startswith(("//", "/\\")):
            return match.group(0)
        if not src:
            return ""
        label = attributes.get("alt") or attributes.get("src", "")
        return f'<a href="{attributes["src"]}" rel="noopener noreferrer nofollow">{label or "image"}</a>'

    return _IMG.sub(replace, clean)
