"""Is a page free of script that the page's own templates did not put there?

The templates have no inline script and no event-handler attributes (base.html loads its script
from /static/), so anything of that kind in a response came from data: a user's Markdown, a file
name, a results document, a runner's output. `script_in(html)` lists what it finds, parsed as a
browser would see the markup (escaped text such as `&lt;script&gt;` is text, not a problem).
"""

from __future__ import annotations

from html.parser import HTMLParser

DANGEROUS_SCHEMES = ("javascript:", "vbscript:", "data:text/html")
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "srcdoc", "hx-get", "hx-post"}
EMBEDDING_TAGS = {"iframe", "object", "embed", "frame", "base", "meta"}


class _Finder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        data_only = named.get("type") == "application/json" and not named.get("src")  # never executed
        if tag == "script" and not data_only and not (named.get("src") or "").startswith("/static/"):
            self.problems.append(f"<script> not from /static/: {attrs}")
            self.in_inline_script = True
        if tag in EMBEDDING_TAGS and not (tag == "meta" and _harmless_meta(named)):
            self.problems.append(f"<{tag}> {attrs}")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}={value!r}>")
            squashed = "".join((value or "").split()).lower()
            if name in URL_ATTRIBUTES and squashed.startswith(DANGEROUS_SCHEMES):
                self.problems.append(f"<{tag} {name}={value!r}>")
            if name == "style" and ("expression(" in squashed or "url(" in squashed):
                self.problems.append(f"<{tag} style={value!r}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self.in_inline_script = False


def _harmless_meta(attrs: dict[str, str | None]) -> bool:
    """The layout's own <meta charset/name/...>; never a refresh that could send the page elsewhere."""
    return (attrs.get("http-equiv") or "").lower() != "refresh"


def script_in(html: str) -> list[str]:
    finder = _Finder()
    finder.feed(html)
    finder.close()
    return finder.problems


# What the tests put wherever a person can type: Markdown fields get HOSTILE_MARKDOWN, plain
# fields (names, titles, file names) HOSTILE_TEXT. Neither may ever run.
HOSTILE_TEXT = "\"'><script>alert('text')</script><img src=x onerror=alert('text')>"
HOSTILE_MARKDOWN = "\n\n".join(
    (
        "<script>alert('md')</script>",
        "[a link](javascript:alert('md'))",
        "<a href=\"javascript:alert('md')\">raw link</a>",
        '<img src="x" onerror="alert(\'md\')">',
        "<p onmouseover=\"alert('md')\">hover</p>",
        '<iframe src="https://evil.example.org/"></iframe>',
        "[a reference][r]\n\n[r]: javascript:alert('md')",
        "<svg><script>alert('md')</script></svg>",
    )
)
# A file name cannot hold "/" (so no closing tags), but an opening <script> swallows the rest of a page.
HOSTILE_FILENAME = "kv\"'><img src=x onerror=alert('file')><script>alert('file').py"
