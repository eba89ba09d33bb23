"""Every team URL for every kind of visitor.

The visitors: anonymous, a learner in the team, a learner not in it, a reviewer of another team, a
reviewer of the team, its lead, and staff (a superuser who is not in the team). Staff get nothing
special on team pages: they are like anyone else who is not a member (the admin is theirs).

"ok" is a 200 for a page or a redirect that is not to the login form; "login" is that redirect.
Someone outside the team gets a 404 (the team does not exist for them); a member whose role does
not allow a thing gets a 403. Each request runs in a transaction that is rolled back, so every
visitor meets the same data.
"""

from __future__ import annotations

from django.db import transaction
from django.test import TestCase
from django.urls import reverse

from accounts.models import Team
from tests.factories import (
    create_invite,
    create_layer,
    create_notification,
    create_roadmap,
    create_team,
    create_topic,
    create_user,
)

VISITORS = ("anonymous", "member", "outsider", "other_reviewer", "reviewer", "lead", "staff")
OK, LOGIN = "ok", "login"


def expect(member, outsider, other_reviewer, reviewer, lead, staff) -> dict[str, object]:
    return {
        "anonymous": LOGIN,
        "member": member,
        "outsider": outsider,
        "other_reviewer": other_reviewer,
        "reviewer": reviewer,
        "lead": lead,
        "staff": staff,
    }


ANYONE = expect(OK, OK, OK, OK, OK, OK)
TEAM = expect(OK, 404, 404, OK, OK, 404)
REVIEWERS = expect(403, 404, 404, OK, OK, 404)
LEAD = expect(403, 404, 404, 403, OK, 404)


class TeamPermissionMatrixTests(TestCase):
    def setUp(self):
        roadmap = create_roadmap(slug="llm", order=1)
        create_topic(layer=create_layer(roadmap=roadmap, number=1))
        self.users = {
            "member": create_user(username="member"),
            "outsider": create_user(username="outsider", email="outsider@example.com"),
            "other_reviewer": create_user(username="other_reviewer"),
            "reviewer": create_user(username="reviewer"),
            "lead": create_user(username="lead"),
            "staff": create_user(username="staff", is_staff=True, is_superuser=True),
        }
        self.peer = create_user(username="peer")
        u = self.users
        self.team = create_team(
            members={u["lead"]: "lead", u["reviewer"]: "reviewer", u["member"]: "member", self.peer: "member"}
        )
        create_team(members={u["other_reviewer"]: "reviewer", self.peer: "member"})
        self.invite, self.token = create_invite(team=self.team, by=u["lead"])
        self.addressed, _ = create_invite(team=self.team, by=u["lead"])
        type(self.addressed).objects.filter(pk=self.addressed.pk).update(
            invitee=u["outsider"], email="outsider@example.com"
        )
        self.notification = create_notification(user=u["member"], url="/me/")

    def status(self, visitor: str, method: str, path: str, data: dict | None = None) -> object:
        with transaction.atomic():
            self.client.logout()
            if visitor != "anonymous":
                self.client.force_login(self.users[visitor])
            response = getattr(self.client, method)(path, data or {})
            transaction.set_rollback(True)
        if response.status_code == 302 and response.url.startswith(reverse("accounts:login")):
            return LOGIN
        if response.status_code in (200, 302):
            return OK
        return response.status_code

    def check(self, method: str, path: str, expected: dict[str, object], data: dict | None = None) -> None:
        got = {visitor: self.status(visitor, method, path, data) for visitor in VISITORS}
        assert got == expected, f"{method.upper()} {path}"

    def team_url(self, name: str, *args: object) -> str:
        return reverse(f"teams:{name}", args=[self.team.slug, *args])

    # -- accounts: teams --

    def test_team_list_and_create(self):
        self.check("get", reverse("teams:team-list"), ANYONE)
        self.check("get", reverse("teams:team-create"), ANYONE)
        self.check("post", reverse("teams:team-create"), ANYONE, {"name": "Another", "visibility": "aggregate"})

    def test_team_page(self):
        self.check("get", self.team.get_absolute_url(), TEAM)

    def test_settings(self):
        self.check("get", self.team_url("team-settings"), LEAD)
        self.check("post", self.team_url("team-settings"), LEAD, {"name": "Renamed", "visibility": "progress"})

    def test_role_change_and_removal(self):
        peer = self.team.memberships.get(user=self.peer).pk
        self.check("post", self.team_url("member-role", peer), LEAD, {"role": "reviewer"})
        self.check("post", self.team_url("member-remove", peer), LEAD)

    def test_leaving(self):
        # The lead may try; as the only lead they are refused with a message (tests/accounts/test_teams.py).
        self.check("post", self.team_url("team-leave"), TEAM)

    # -- accounts: invitations --

    def test_invitations(self):
        self.check("get", self.team_url("invite-list"), LEAD)
        self.check("post", self.team_url("invite-list"), LEAD, {"role": "member"})
        self.check("post", self.team_url("invite-revoke", self.invite.pk), LEAD)

    def test_an_invitation_link_works_for_anyone_logged_in(self):
        link = self.team_url("invite-accept", self.token)
        self.check("get", link, ANYONE)
        self.check("post", link, ANYONE)

    def test_an_addressed_invitation_is_only_for_its_invitee(self):
        only_outsider = expect(404, OK, 404, 404, 404, 404)
        self.check("post", reverse("teams:invitation-accept", args=[self.addressed.pk]), only_outsider)
        self.check("post", reverse("teams:invitation-decline", args=[self.addressed.pk]), only_outsider)

    # -- assessments: what the team sees --

    def test_matrix_and_weakest_topics(self):
        self.check("get", self.team_url("team-matrix"), TEAM)
        self.check("get", self.team_url("team-weakest"), TEAM)

    def test_csv_and_drill_down_in_a_team_that_shares_aggregates_only(self):
        self.check("get", self.team_url("team-matrix-csv"), REVIEWERS)
        self.check("get", self.team_url("member-dashboard", "peer"), REVIEWERS)
        self.check("get", self.team_url("member-progress", "peer", "llm"), REVIEWERS)

    def test_csv_and_drill_down_in_a_team_that_shares_progress(self):
        Team.objects.filter(pk=self.team.pk).update(visibility="progress")
        self.check("get", self.team_url("team-matrix-csv"), TEAM)
        self.check("get", self.team_url("member-dashboard", "peer"), TEAM)
        self.check("get", self.team_url("member-progress", "peer", "llm"), TEAM)

    def test_inactive_members(self):
        self.check("get", self.team_url("team-inactive"), REVIEWERS)
        Team.objects.filter(pk=self.team.pk).update(visibility="progress")
        self.check("get", self.team_url("team-inactive"), REVIEWERS)

    # -- notifications --

    def test_notification_pages(self):
        self.check("get", reverse("accounts:notification-list"), ANYONE)
        self.check("post", reverse("accounts:notification-read-all"), ANYONE)
        only_member = expect(OK, 404, 404, 404, 404, 404)
        self.check("get", reverse("accounts:notification-open", args=[self.notification.pk]), only_member)
        self.check("post", reverse("accounts:notification-read", args=[self.notification.pk]), only_member)

    def test_every_team_url_is_covered(self):
        """A new team URL must be added to this file."""
        from config.urls import urlpatterns

        teams = next(p for p in urlpatterns if getattr(p, "namespace", None) == "teams")
        names = {p.name for p in teams.url_patterns}
        covered = {
            "team-list",
            "team-create",
            "team-detail",
            "team-settings",
            "team-leave",
            "member-role",
            "member-remove",
            "invite-list",
            "invite-revoke",
            "invite-accept",
            "invitation-accept",
            "invitation-decline",
            "team-matrix",
            "team-matrix-csv",
            "team-weakest",
            "team-inactive",
            "member-dashboard",
            "member-progress",
        }
        assert names == covered
