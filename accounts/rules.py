"""Who may do what in a team, as `rules` predicates over (user, team).

Each reads the user's role through `Team.role_of`, which costs no query when the team was looked up
through `Team.objects.of(user)` and otherwise reads the membership row, so a role change or a
departure takes effect on the next request. Staff and superusers get nothing here: team pages are
for the team, the admin is for staff. Views call `rules.test_rule(name, user, team)` rather than
`user.has_perm`, which would let every superuser through.
"""

from __future__ import annotations

import rules

from accounts.models import Membership, Team, User


@rules.predicate
def is_team_member(user: User, team: Team) -> bool:
    return team.role_of(user) is not None


@rules.predicate
def is_team_lead(user: User, team: Team) -> bool:
    return team.role_of(user) == Membership.Role.LEAD


@rules.predicate
def is_team_reviewer(user: User, team: Team) -> bool:
    """A reviewer or a lead: those who decide gates and see every member's progress."""
    return Membership.role_reviews(team.role_of(user))


@rules.predicate
def shares_progress(user: User, team: Team) -> bool:
    return team.visibility == Team.Visibility.PROGRESS


can_view_member_progress = is_team_reviewer | (is_team_member & shares_progress)

rules.add_rule("teams.view", is_team_member)
rules.add_rule("teams.manage", is_team_lead)
rules.add_rule("teams.review", is_team_reviewer)
rules.add_rule("teams.view_member_progress", can_view_member_progress)
