"""Who may do what to a gate request, as `rules` predicates (templates: `{% load rules %}`).

Roles are read from Membership on every check, never cached, so a reviewer who leaves a team
loses access with their next request. Staff may read every request (they run the site and
answer questions about it) but decide only where they are a reviewer or lead of the learner's
team, like anyone else; nobody decides their own request.
"""

from __future__ import annotations

import rules

from accounts.models import User
from assessments.models import GateRequest


@rules.predicate
def is_learner(user: User, request: GateRequest) -> bool:
    return request.is_learner(user)


@rules.predicate
def is_decider(user: User, request: GateRequest) -> bool:
    return request.can_be_decided_by(user)


@rules.predicate
def is_staff(user: User) -> bool:
    return user.is_authenticated and user.is_staff


can_view = is_learner | is_decider | is_staff
can_decide = is_decider
can_edit = is_learner
can_reopen = is_learner | is_decider

rules.add_rule("gates.view_request", can_view)
rules.add_rule("gates.decide_request", can_decide)
rules.add_rule("gates.edit_request", can_edit)
rules.add_rule("gates.reopen_request", can_reopen)
# The review page: deciders, and staff reading along (without the decision form).
rules.add_rule("gates.read_review", is_decider | is_staff)
