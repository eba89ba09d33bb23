"""The credential and verify pages show the document's dates as people read them, the ISO 8601 value
kept in <time datetime>; the filter leaves what does not parse (a tampered document's) as it was."""

from __future__ import annotations

import re
from datetime import datetime

from django.test import TestCase

from assessments.templatetags.gates import readable_date
from tests.assessments.test_credentials import Issued


def test_readable_date_forms():
    assert readable_date("2026-12-07T21:34:05Z") == "7 December 2026, 21:34 UTC"
    assert readable_date("2026-12-07T23:34:05+02:00") == "7 December 2026, 21:34 UTC"
    assert readable_date("2026-03-01") == "1 March 2026"
    assert readable_date("2026-03-01T08:05:00") == "1 March 2026, 08:05"
    assert readable_date("yesterday-ish") == "yesterday-ish"
    assert readable_date(None) == ""


class CredentialDateTests(Issued, TestCase):
    def times(self, html: str) -> list[tuple[str, str]]:
        return re.findall(r'<time datetime="([^"]+)">([^<]+)</time>', html)

    def check(self, html: str) -> None:
        times = self.times(html)
        assert len(times) == 2, times
        for iso, shown in times:
            moment = datetime.fromisoformat(iso)
            assert shown == f"{moment.day} {moment:%B %Y, %H:%M} UTC"
            assert iso not in shown

    def test_the_public_credential_page(self):
        self.check(self.client.get(self.credential.get_absolute_url()).content.decode())

    def test_the_verify_page(self):
        html = self.client.get(f"/credentials/verify/?id={self.credential.pk}").content.decode()
        self.check(html)
        # The dates check says it in the same words, not as the document's ISO string.
        valid_from = re.search(r"Valid from ([^<]*?), with no end date", html)
        assert valid_from is not None, html
        assert re.fullmatch(r"\d{1,2} [A-Z][a-z]+ \d{4}, \d{2}:\d{2} UTC", valid_from.group(1)), valid_from.group(1)
