from __future__ import annotations

from django.test import TestCase
from django.urls import resolve, reverse

from accounts.models import Membership, Notification, Team, TeamError
from tests.factories import create_team, create_user


def url(name: str, *args: object) -> str:
    return reverse(f"teams:{name}", args=args)


class TeamCreateTests(TestCase):
    def test_the_creator_becomes_the_lead(self):
        ada = create_user()
        self.client.force_login(ada)

        response = self.client.post(
            url("team-create"), {"name": "Inference Squad", "description": "", "visibility": "aggregate"}
        )

        team = Team.objects.get(name="Inference Squad")
        self.assertRedirects(response, url("invite-list", team.slug), fetch_redirect_response=False)
        assert team.slug == "inference-squad"
        assert team.role_of(ada) == Membership.Role.LEAD

    def test_slugs_stay_unique_and_avoid_the_reserved_paths(self):
        lead = create_user()
        first = Team.create_with_lead(lead, name="Kernels")
        second = Team.create_with_lead(lead, name="Kernels")
        reserved = Team.create_with_lead(lead, name="New")

        assert (first.slug, second.slug) == ("kernels", "kernels-2")
        assert reserved.slug == "new-2"
        assert resolve("/teams/new/").url_name == "team-create"

    def test_a_name_is_required_and_the_form_says_so(self):
        self.client.force_login(create_user())

        response = self.client.post(url("team-create"), {"name": "", "visibility": "aggregate"})

        assert response.status_code == 200
        assert "name" in response.context["form"].errors
        assert not Team.objects.exists()


class TeamSettingsTests(TestCase):
    def setUp(self):
        self.lead = create_user()
        self.team = create_team(members={self.lead: "lead"})
        self.client.force_login(self.lead)

    def test_the_lead_renames_and_changes_visibility_and_the_slug_stays(self):
        slug = self.team.slug

        response = self.client.post(
            url("team-settings", slug), {"name": "Renamed", "description": "We serve.", "visibility": "progress"}
        )

        self.assertRedirects(response, url("team-detail", slug), fetch_redirect_response=False)
        self.team.refresh_from_db()
        assert (self.team.name, self.team.slug, self.team.visibility) == ("Renamed", slug, "progress")

    def test_a_reviewer_may_not_change_settings(self):
        reviewer = create_user()
        self.team.add_member(reviewer, "reviewer")
        self.client.force_login(reviewer)

        response = self.client.post(url("team-settings", self.team.slug), {"name": "Mine", "visibility": "progress"})

        assert response.status_code == 403
        self.team.refresh_from_db()
        assert self.team.name != "Mine"


class RoleTests(TestCase):
    def setUp(self):
        self.lead = create_user()
        self.ada = create_user()
        self.team = create_team(members={self.lead: "lead", self.ada: "member"})
        self.ada_membership = self.team.memberships.get(user=self.ada)
        self.lead_membership = self.team.memberships.get(user=self.lead)
        self.client.force_login(self.lead)

    def test_the_lead_makes_a_member_reviewer_and_they_are_told(self):
        response = self.client.post(url("member-role", self.team.slug, self.ada_membership.pk), {"role": "reviewer"})

        self.assertRedirects(response, self.team.get_absolute_url(), fetch_redirect_response=False)
        assert self.team.role_of(self.ada) == "reviewer"
        note = Notification.objects.of(self.ada).get()
        assert note.kind == Notification.Kind.TEAM_CHANGED and "reviewer" in note.title

    def test_the_htmx_answer_is_the_member_list(self):
        response = self.client.post(
            url("member-role", self.team.slug, self.ada_membership.pk), {"role": "lead"}, headers={"HX-Request": "true"}
        )

        assert response.status_code == 200
        self.assertContains(response, 'id="team-members"')
        self.assertNotContains(response, "<html")
        assert self.team.role_of(self.ada) == "lead"

    def test_the_last_lead_cannot_step_down(self):
        response = self.client.post(
            url("member-role", self.team.slug, self.lead_membership.pk), {"role": "member"}, follow=True
        )

        assert self.team.role_of(self.lead) == "lead"
        self.assertContains(response, "only lead")

    def test_a_lead_can_step_down_when_another_lead_remains(self):
        self.team.change_role(self.ada_membership, "lead", by=self.lead)

        self.client.post(url("member-role", self.team.slug, self.lead_membership.pk), {"role": "reviewer"})

        assert self.team.role_of(self.lead) == "reviewer"
        # No longer a lead: the next change is refused.
        response = self.client.post(url("member-role", self.team.slug, self.ada_membership.pk), {"role": "member"})
        assert response.status_code == 403

    def test_an_unknown_role_is_refused(self):
        self.client.post(url("member-role", self.team.slug, self.ada_membership.pk), {"role": "owner"})

        assert self.team.role_of(self.ada) == "member"
        with self.assertRaises(TeamError):
            self.team.change_role(self.ada_membership, "owner", by=self.lead)

    def test_a_membership_of_another_team_is_a_404(self):
        other = create_team(members={create_user(): "member"})
        foreign = other.memberships.get()

        response = self.client.post(url("member-role", self.team.slug, foreign.pk), {"role": "lead"})

        assert response.status_code == 404
        assert foreign.__class__.objects.get(pk=foreign.pk).role == "member"


class RemoveAndLeaveTests(TestCase):
    def setUp(self):
        self.lead = create_user()
        self.ravi = create_user()
        self.ada = create_user()
        self.team = create_team(members={self.lead: "lead", self.ravi: "reviewer", self.ada: "member"})

    def test_the_lead_removes_a_member_who_is_told(self):
        self.client.force_login(self.lead)
        membership = self.team.memberships.get(user=self.ada)

        self.client.post(url("member-remove", self.team.slug, membership.pk))

        assert self.team.role_of(self.ada) is None
        assert Notification.objects.of(self.ada).get().kind == Notification.Kind.TEAM_CHANGED

    def test_the_last_lead_cannot_be_removed_nor_leave(self):
        with self.assertRaises(TeamError):
            self.team.remove(self.team.memberships.get(user=self.lead), by=self.lead)
        self.client.force_login(self.lead)

        response = self.client.post(url("team-leave", self.team.slug), follow=True)

        assert self.team.role_of(self.lead) == "lead"
        self.assertContains(response, "only lead")

    def test_a_member_leaves(self):
        self.client.force_login(self.ada)

        response = self.client.post(url("team-leave", self.team.slug))

        self.assertRedirects(response, url("team-list"), fetch_redirect_response=False)
        assert self.team.role_of(self.ada) is None
        assert not Notification.objects.of(self.ada).exists()  # nobody tells you what you did yourself
        assert self.client.get(self.team.get_absolute_url()).status_code == 404

    def test_a_reviewer_who_leaves_loses_access_at_once(self):
        self.client.force_login(self.ravi)
        ada_page = url("member-dashboard", self.team.slug, self.ada.username)
        assert self.client.get(ada_page).status_code == 200
        assert self.client.get(url("team-matrix", self.team.slug)).status_code == 200

        self.client.post(url("team-leave", self.team.slug))

        assert self.client.get(ada_page).status_code == 404
        assert self.client.get(url("team-matrix", self.team.slug)).status_code == 404
        assert not Membership.objects.learners_reviewed_by(self.ravi).filter(user_id=self.ada.pk).exists()

    def test_a_reviewer_demoted_to_member_loses_the_drill_down_at_once(self):
        self.client.force_login(self.ravi)
        ada_page = url("member-dashboard", self.team.slug, self.ada.username)
        assert self.client.get(ada_page).status_code == 200

        self.team.change_role(self.team.memberships.get(user=self.ravi), "member", by=self.lead)

        assert self.client.get(ada_page).status_code == 403


class TeamPagesTests(TestCase):
    def test_the_team_list_shows_my_teams_with_my_role_and_not_others(self):
        ada = create_user()
        mine = create_team(name="Mine", members={ada: "reviewer"})
        create_team(name="Theirs", members={create_user(): "lead"})
        self.client.force_login(ada)

        response = self.client.get(url("team-list"))

        assert list(response.context["teams"]) == [mine]
        self.assertContains(response, "you: reviewer")
        self.assertNotContains(response, "Theirs")

    def test_the_team_page_lists_members_leads_first_and_gives_the_lead_the_controls(self):
        lead, ada = create_user(username="zed"), create_user(username="ada")
        team = create_team(members={lead: "lead", ada: "member"})
        self.client.force_login(lead)

        response = self.client.get(team.get_absolute_url())

        role_url = url("member-role", team.slug, team.memberships.get(user=ada).pk)
        assert [m.user for m in response.context["members"]] == [lead, ada]
        self.assertContains(response, role_url)
        self.client.force_login(ada)
        self.assertNotContains(self.client.get(team.get_absolute_url()), role_url)

    def test_the_inactive_members_link_is_for_reviewers_and_leads_and_names_the_window(self):
        reviewer, ada = create_user(), create_user()
        team = create_team(members={reviewer: "reviewer", ada: "member"})
        inactive = url("team-inactive", team.slug)
        self.client.force_login(reviewer)

        response = self.client.get(team.get_absolute_url())

        self.assertContains(response, inactive)
        self.assertContains(response, f"no activity for {Team.QUIET_DAYS} days")
        self.client.force_login(ada)
        self.assertNotContains(self.client.get(team.get_absolute_url()), inactive)


class AccountDeletionTests(TestCase):
    def test_the_only_lead_of_a_team_with_members_cannot_delete_their_account(self):
        lead = create_user(password="s3cret-pass")
        team = create_team(name="Kernels", members={lead: "lead", create_user(): "member"})
        create_team(name="Alone", members={lead: "lead"})  # nobody else: nothing to strand
        self.client.force_login(lead)
        url = reverse("assessments:account-delete")

        response = self.client.post(url, {"password": "s3cret-pass"})

        self.assertContains(response, "You are the only lead of Kernels.")
        assert lead.__class__.objects.filter(pk=lead.pk).exists()
        team.add_member(create_user(), "lead")
        self.client.post(url, {"password": "s3cret-pass"})
        assert not lead.__class__.objects.filter(pk=lead.pk).exists()
