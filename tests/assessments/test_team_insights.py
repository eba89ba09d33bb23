"""Weakest topics, inactive members and the read-only drill-down into a member's pages."""

from __future__ import annotations

from datetime import timedelta

from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from assessments.models import Activity
from assessments.teams import inactive_members, weakest_topics
from tests.factories import (
    create_assessment,
    create_layer,
    create_note,
    create_progress,
    create_roadmap,
    create_team,
    create_topic,
    create_user,
)


def url(name: str, *args: object) -> str:
    return reverse(f"teams:{name}", args=args)


class WeakestTopicsTests(TestCase):
    def setUp(self):
        self.roadmap = create_roadmap(slug="llm", order=1)
        layer = create_layer(roadmap=self.roadmap, number=1)
        self.a, self.b, self.c, self.d = (create_topic(layer=layer, title=t, order=i) for i, t in enumerate("ABCD"))
        self.retired = create_topic(layer=layer, title="Gone", retired=True)
        self.lead, self.ada, self.bo = create_user(), create_user(), create_user()
        self.team = create_team(members={self.lead: "lead", self.ada: "member", self.bo: "member"})
        outsider = create_user()
        for user in (self.ada, self.bo, self.lead):
            create_progress(user=user, topic=self.a, status="done", confidence=5)
        create_progress(user=self.ada, topic=self.b, status="done", confidence=2)
        create_progress(user=self.bo, topic=self.b, status="learning", confidence=1)
        create_progress(user=self.ada, topic=self.c, status="learning", confidence=4)
        create_progress(user=outsider, topic=self.d, status="done", confidence=5)  # not in the team
        create_progress(user=self.ada, topic=self.retired, status="learning", confidence=1)

    def test_fewest_done_first_among_started_topics_and_the_unstarted_apart(self):
        create_progress(user=self.bo, topic=self.c, status="learning")
        create_progress(user=self.ada, topic=self.d, status="skipped")  # skipping is not starting

        weak = weakest_topics(self.team, self.roadmap)

        assert [s.topic for s in weak.least_done] == [self.c, self.b, self.a]
        assert [(s.done_percent, s.learning) for s in weak.least_done] == [(0, 2), (33, 1), (100, 0)]
        assert weak.unstarted == [self.d]
        assert weak.members == 3

    def test_at_equal_shares_the_topic_more_members_are_stuck_on_comes_first(self):
        e = create_topic(layer=self.a.layer, title="E", order=9)
        create_progress(user=self.ada, topic=e, status="learning")
        create_progress(user=self.bo, topic=e, status="learning")

        weak = weakest_topics(self.team, self.roadmap)

        assert [s.topic for s in weak.least_done][:2] == [e, self.c]

    def test_lowest_mean_confidence_over_those_who_gave_one(self):
        weak = weakest_topics(self.team, self.roadmap)

        assert [(s.topic, s.mean_confidence, s.rated) for s in weak.least_confident] == [
            (self.b, 1.5, 2),
            (self.c, 4.0, 1),
            (self.a, 5.0, 3),
        ]

    def test_every_member_sees_the_page_which_names_nobody(self):
        self.client.force_login(self.bo)

        response = self.client.get(url("team-weakest", self.team.slug))

        assert response.status_code == 200
        self.assertContains(response, self.c.get_absolute_url())
        self.assertNotContains(response, self.ada.username)


class InactiveMembersTests(TestCase):
    def setUp(self):
        self.lead = create_user(username="lena")
        self.busy = create_user(username="busy")
        self.quiet = create_user(username="quiet")
        self.never = create_user(username="never")
        self.team = create_team(
            members={self.lead: "lead", self.busy: "member", self.quiet: "member", self.never: "member"}
        )
        now = timezone.now()
        for user, days in ((self.lead, 1), (self.busy, 3), (self.quiet, 20)):
            Activity.objects.create(user=user, verb="status", created_at=now - timedelta(days=days))
        Activity.objects.create(user=self.quiet, verb="note", created_at=now - timedelta(days=40))
        Activity.objects.create(user=create_user(), verb="note", created_at=now - timedelta(days=90))

    def test_members_without_activity_for_n_days_never_active_first(self):
        assert [q.user for q in inactive_members(self.team, days=14)] == [self.never, self.quiet]
        assert [q.user for q in inactive_members(self.team, days=2)] == [self.never, self.quiet, self.busy]
        assert [q.user for q in inactive_members(self.team, days=30)] == [self.never]

    def test_the_page_defaults_to_14_days_and_takes_n(self):
        self.client.force_login(self.lead)

        default = self.client.get(url("team-inactive", self.team.slug))
        two = self.client.get(url("team-inactive", self.team.slug) + "?days=2", headers={"HX-Request": "true"})

        assert default.context["days"] == 14
        assert [q.user for q in default.context["quiet"]] == [self.never, self.quiet]
        self.assertContains(default, "never")
        assert [q.user for q in two.context["quiet"]] == [self.never, self.quiet, self.busy]
        self.assertContains(two, 'id="quiet-members"')
        self.assertNotContains(two, "<html")

    def test_a_bad_n_falls_back_to_14_and_says_so(self):
        self.client.force_login(self.lead)

        for bad in ("abc", "0", "9999"):
            response = self.client.get(url("team-inactive", self.team.slug) + f"?days={bad}")
            assert response.context["days"] == 14
            self.assertContains(response, "showing 14")

    def test_members_may_not_see_who_is_inactive(self):
        self.client.force_login(self.busy)

        response = self.client.get(url("team-inactive", self.team.slug))

        self.assertContains(response, "leads and reviewers see who has been inactive", status_code=403)


class DrillDownTests(TestCase):
    def setUp(self):
        self.roadmap = create_roadmap(slug="llm", order=1)
        self.layer = create_layer(roadmap=self.roadmap, number=1, slug="one")
        self.topic = create_topic(layer=self.layer, title="Tokenizers", slug="tok")
        self.lead, self.ravi, self.ada, self.bo = (create_user(username=n) for n in ("lena", "ravi", "ada", "bo"))
        self.team = create_team(
            members={self.lead: "lead", self.ravi: "reviewer", self.ada: "member", self.bo: "member"}
        )
        create_progress(user=self.ada, topic=self.topic, status="done", confidence=4)
        create_assessment(user=self.ada, layer=self.layer, level=3)
        create_note(user=self.ada, topic=self.topic, body="My secret musings")
        self.dashboard = url("member-dashboard", self.team.slug, "ada")
        self.progress = url("member-progress", self.team.slug, "ada", "llm")

    def test_a_lead_sees_the_members_dashboard_read_only(self):
        self.client.force_login(self.lead)

        response = self.client.get(self.dashboard + "?roadmap=llm")

        assert response.context["board"].overall.done == 1
        self.assertContains(response, "Read-only")
        self.assertContains(response, '<span class="level-badge level-self" title="Level 3">3</span>', html=True)
        self.assertNotContains(response, reverse("assessments:assessment-detail", args=["llm", "one"]))
        self.assertContains(response, self.progress)
        self.assertNotContains(response, "My secret musings")

    def test_a_reviewer_sees_the_members_checklist_without_status_forms(self):
        self.client.force_login(self.ravi)

        response = self.client.get(self.progress)

        self.assertContains(response, "ada's checklist")
        self.assertContains(response, "confidence 4/5")
        self.assertNotContains(response, reverse("assessments:progress-update", args=["llm", "tok"]))
        self.assertNotContains(response, "My secret musings")

    def test_visibility_decides_whether_members_see_each_other(self):
        self.client.force_login(self.bo)
        assert self.client.get(self.dashboard).status_code == 403
        assert self.client.get(self.progress).status_code == 403

        self.team.visibility = "progress"
        self.team.save()

        assert self.client.get(self.dashboard).status_code == 200
        assert self.client.get(self.progress).status_code == 200

    def test_a_member_always_sees_their_own_row(self):
        self.client.force_login(self.ada)

        assert self.client.get(self.dashboard).status_code == 200

    def test_someone_outside_the_team_is_a_404_and_so_is_a_non_member_target(self):
        self.client.force_login(create_user())
        assert self.client.get(self.dashboard).status_code == 404

        self.client.force_login(self.lead)
        outsider = create_user(username="out")
        assert self.client.get(url("member-dashboard", self.team.slug, outsider.username)).status_code == 404
        assert self.client.get(url("member-progress", self.team.slug, "ada", "nope")).status_code == 404

    def test_the_learners_own_pages_still_have_their_controls(self):
        self.client.force_login(self.ada)

        response = self.client.get(reverse("assessments:progress-detail", args=["llm"]))

        self.assertContains(response, reverse("assessments:progress-update", args=["llm", "tok"]))
        self.assertContains(response, "Your checklist")
