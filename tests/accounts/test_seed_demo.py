from __future__ import annotations

import io

from django.core.management import call_command
from django.test import TestCase, override_settings

from accounts.models import User
from assessments.dashboard import build_dashboard
from assessments.models import PathFollow, SelfAssessment, TopicNote, TopicProgress
from tests.factories import load_real_content


@override_settings(DEBUG=True)
class SeedDemoTests(TestCase):
    def test_the_demo_learners_get_a_living_dashboard_once(self):
        load_real_content()

        call_command("seed_demo", stdout=io.StringIO())
        ada = User.objects.get(username="ada")
        counts = (
            TopicProgress.objects.of(ada).count(),
            SelfAssessment.objects.of(ada).count(),
            TopicNote.objects.of(ada).count(),
            PathFollow.objects.of(ada).count(),
        )
        call_command("seed_demo", stdout=io.StringIO())

        assert counts[0] > 10 and counts[1:] == (3, 1, 1)
        assert TopicProgress.objects.of(ada).count() == counts[0]
        board = build_dashboard(ada)
        assert board.roadmap.slug == "llm-systems-engineering"
        assert board.current_streak > 1 and board.suggestions
        assert board.overall.done and board.overall.skipped and board.overall.learning
        ada.refresh_from_db()
        # Demo accounts have confirmed addresses (reserved names nobody reads), so invitations reach them.
        assert ada.email_verified and list(User.objects.with_verified_email(ada.email)) == [ada]
