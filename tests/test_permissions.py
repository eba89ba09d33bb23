"""Every URL pattern and API endpoint of the project, for every kind of person.

The breadth check of issue 7: `EXPECTATIONS` declares, for each named URL pattern, how to build its
arguments from one shared world, the methods it answers and the outcome for each role. The first
test walks the URL resolver and fails, naming the pattern, when a URL has no entry (or an entry no
URL), so a new view cannot be added without saying who may use it. The area matrices
(tests/assessments/test_gate_permissions.py, tests/accounts/test_team_permissions.py) go deeper on
their own URLs; this module asks the same two questions of all of them:

- the status: "login" (sent to the login page), "admin-login" (sent to the admin's), 401 (the API
  without a token), 404 (not yours: it does not exist for you), 403 (visible, not yours to do),
  405 (a method the view does not answer), or "ok" (any other 2xx or 3xx);
- no data leaked: the owner's private strings (`SECRETS`) appear in no response to someone who may
  not see them, whatever the status (and the owner's API token in none at all);
- nothing runs: every field a person can type holds hostile markup (tests/inert.py), and no HTML
  response may carry script, event handlers or javascript: links that the templates did not write.

The roles: anonymous; the owner (a learner with progress, notes, artifacts, runs, results, gate
requests, a credential, notifications, an API token); a peer (a learner in the owner's team, which
shares aggregates only); an outsider (a reviewer of another team); the reviewer and the lead of the
owner's team; staff (a superuser in no team). Staff get no powers outside the admin except reading
gate requests, which `GateRequest.objects.visible_to` grants them on purpose (they decide nothing).

Each request runs in a transaction that is rolled back, so every role meets the same world.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.http import HttpResponseBase
from django.test import Client, TestCase
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import Membership, TeamInvite
from assessments import credentials
from portfolio import contracts
from roadmap.models import ArtifactSpec
from tests.factories import (
    OK_SCRIPT,
    create_artifact,
    create_artifact_spec,
    create_assessment,
    create_gate,
    create_gate_request,
    create_invite,
    create_layer,
    create_level,
    create_link,
    create_note,
    create_notification,
    create_path,
    create_progress,
    create_roadmap,
    create_run,
    create_team,
    create_token,
    create_topic,
    create_user,
    create_version,
    finish_run,
)
from tests.inert import HOSTILE_FILENAME, HOSTILE_MARKDOWN, HOSTILE_TEXT, script_in

ROLES = ("anonymous", "owner", "peer", "outsider", "reviewer", "lead", "staff")
OK, LOGIN, ADMIN_LOGIN = "ok", "login", "admin-login"
Row = dict[str, object]


def row(
    owner: object, peer: object, outsider: object, reviewer: object, lead: object, staff: object, *, anonymous=LOGIN
) -> Row:
    return {
        "anonymous": anonymous,
        "owner": owner,
        "peer": peer,
        "outsider": outsider,
        "reviewer": reviewer,
        "lead": lead,
        "staff": staff,
    }


# Pages.
PUBLIC = row(OK, OK, OK, OK, OK, OK, anonymous=OK)
SIGNED_IN = row(OK, OK, OK, OK, OK, OK)  # each sees their own things (scoped by the view)
OWNER = row(OK, 404, 404, 404, 404, 404)
OWNER_AND_REVIEWERS = row(OK, 404, 404, OK, OK, 404)
GATE_READERS = row(OK, 404, 404, OK, OK, OK)
# Team pages: the owner and the peer are plain members of a team that shares aggregates only.
TEAM = row(OK, OK, 404, OK, OK, 404)
TEAM_REVIEWERS = row(403, 403, 404, OK, OK, 404)
TEAM_LEAD = row(403, 403, 404, 403, OK, 404)
# The API: anonymous is a 401 (JSON), whatever the endpoint.
API_PUBLIC = row(200, 200, 200, 200, 200, 200, anonymous=200)
API_SIGNED_IN = row(200, 200, 200, 200, 200, 200, anonymous=401)
# Anonymous visitors meet LoginRequiredMiddleware before the admin's own login (except on its index).
SENT_TO_LOG_IN = frozenset({LOGIN, ADMIN_LOGIN})
ADMIN = row(ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, OK, anonymous=SENT_TO_LOG_IN)


def api_row(owner: object, peer: object, outsider: object, reviewer: object, lead: object, staff: object) -> Row:
    return row(owner, peer, outsider, reviewer, lead, staff, anonymous=401)


@dataclass(frozen=True)
class Case:
    """One way to call a URL: its arguments, the outcome per role of each method it answers, and
    the data to send. Methods left out (of GET and POST) must be refused with a 405."""

    args: Callable[[Any], Sequence[object]] = lambda w: ()
    get: Row | None = None
    post: Row | None = None
    put: Row | None = None
    data: Callable[[Any], dict[str, Any]] = lambda w: {}
    query: Callable[[Any], str] = lambda w: ""
    why: str = ""

    def methods(self) -> dict[str, Row]:
        return {m: r for m, r in (("get", self.get), ("post", self.post), ("put", self.put)) if r is not None}


def one(*cases: Case) -> tuple[Case, ...]:
    return cases


def upload(name: str = "kv_calculator.py", data: bytes = OK_SCRIPT) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


GENERIC_RESULTS = {"summary": "Recall on 200 questions.", "metrics": {"recall_at_5": 0.8}}

# -------------------------------------------------------------------------------------------------
# The table. Arguments come from the world (`w`, the test class); see PermissionMatrixTests.

EXPECTATIONS: dict[str, tuple[Case, ...]] = {
    # --- accounts: log in, sign up, passwords ---------------------------------------------------
    "accounts:signup": one(
        Case(
            get=PUBLIC,
            post=PUBLIC,
            data=lambda w: {"username": "newbie", "email": "newbie@example.org", "password1": "x", "password2": "y"},
            why="public; someone logged in is sent to their dashboard",
        )
    ),
    "accounts:login": one(Case(get=PUBLIC, post=PUBLIC, data=lambda w: {"username": "ada", "password": "wrong"})),
    "accounts:logout": one(Case(post=SIGNED_IN)),
    "accounts:password-change": one(Case(get=SIGNED_IN, post=SIGNED_IN, data=lambda w: {"old_password": "wrong"})),
    "accounts:password-change-done": one(Case(get=SIGNED_IN)),
    "accounts:password-reset": one(Case(get=PUBLIC, post=PUBLIC, data=lambda w: {"email": "nobody@example.org"})),
    "accounts:password-reset-done": one(Case(get=PUBLIC)),
    "accounts:password-reset-confirm": one(
        Case(args=lambda w: [w.owner_uid, "bad-token"], get=PUBLIC, post=PUBLIC, why="an invalid link says so")
    ),
    "accounts:password-reset-complete": one(Case(get=PUBLIC)),
    # --- accounts: profile, tokens, notifications -------------------------------------------------
    "accounts:profile": one(Case(get=SIGNED_IN)),
    "accounts:profile-update": one(Case(post=SIGNED_IN, data=lambda w: {"display_name": "Someone", "email": ""})),
    "accounts:token-create": one(Case(post=SIGNED_IN, data=lambda w: {"name": "CI"})),
    "accounts:token-revoke": one(Case(args=lambda w: [w.token.pk], post=OWNER)),
    "accounts:notification-list": one(Case(get=SIGNED_IN)),
    "accounts:notification-read-all": one(Case(post=SIGNED_IN)),
    "accounts:notification-open": one(Case(args=lambda w: [w.notification.pk], get=OWNER)),
    "accounts:notification-read": one(Case(args=lambda w: [w.notification.pk], post=OWNER)),
    # --- the learner's own pages (/me/) -----------------------------------------------------------
    "assessments:dashboard": one(Case(get=SIGNED_IN)),
    "assessments:progress-detail": one(Case(args=lambda w: ["llm"], get=SIGNED_IN)),
    "assessments:progress-update": one(
        Case(args=lambda w: ["llm", w.topic.slug], post=SIGNED_IN, data=lambda w: {"status": "learning"})
    ),
    "assessments:assessment-detail": one(
        Case(
            args=lambda w: ["llm", w.layer1.slug],
            get=SIGNED_IN,
            post=SIGNED_IN,
            data=lambda w: {"level": "1", "justification": "Read about it."},
        )
    ),
    "assessments:note-list": one(Case(get=SIGNED_IN)),
    "assessments:note-update": one(
        Case(args=lambda w: ["llm", w.topic.slug], post=SIGNED_IN, data=lambda w: {"body": "My own note."})
    ),
    "assessments:link-create": one(
        Case(
            args=lambda w: ["llm", w.topic.slug],
            post=SIGNED_IN,
            data=lambda w: {"url": "https://example.com/mine", "title": "mine"},
        )
    ),
    "assessments:link-delete": one(Case(args=lambda w: [w.link.pk], post=OWNER)),
    "assessments:path-follow": one(
        Case(args=lambda w: ["llm", w.path.slug], post=SIGNED_IN, data=lambda w: {"follow": "1"})
    ),
    "assessments:data-export": one(Case(get=SIGNED_IN)),
    "assessments:account-delete": one(
        Case(
            get=SIGNED_IN, post=SIGNED_IN, data=lambda w: {"password": "wrong"}, why="a wrong password deletes nothing"
        )
    ),
    # --- teams (accounts and assessments) -----------------------------------------------------
    "teams:team-list": one(Case(get=SIGNED_IN)),
    "teams:team-create": one(
        Case(get=SIGNED_IN, post=SIGNED_IN, data=lambda w: {"name": "New", "visibility": "aggregate"})
    ),
    "teams:team-detail": one(Case(args=lambda w: [w.team.slug], get=TEAM)),
    "teams:team-settings": one(
        Case(
            args=lambda w: [w.team.slug],
            get=TEAM_LEAD,
            post=TEAM_LEAD,
            data=lambda w: {"name": "Renamed", "visibility": "aggregate"},
        )
    ),
    "teams:team-leave": one(
        Case(args=lambda w: [w.team.slug], post=TEAM, why="the only lead is refused with a message")
    ),
    "teams:member-role": one(
        Case(args=lambda w: [w.team.slug, w.peer_membership.pk], post=TEAM_LEAD, data=lambda w: {"role": "reviewer"})
    ),
    "teams:member-remove": one(Case(args=lambda w: [w.team.slug, w.peer_membership.pk], post=TEAM_LEAD)),
    "teams:invite-list": one(
        Case(args=lambda w: [w.team.slug], get=TEAM_LEAD, post=TEAM_LEAD, data=lambda w: {"role": "member"})
    ),
    "teams:invite-revoke": one(Case(args=lambda w: [w.team.slug, w.invite.pk], post=TEAM_LEAD)),
    "teams:invite-accept": one(
        Case(args=lambda w: [w.team.slug, w.invite_token], get=SIGNED_IN, post=SIGNED_IN, why="the link is the key")
    ),
    "teams:invitation-accept": one(
        Case(args=lambda w: [w.addressed.pk], post=row(404, 404, OK, 404, 404, 404), why="only its invitee")
    ),
    "teams:invitation-decline": one(
        Case(args=lambda w: [w.addressed.pk], post=row(404, 404, OK, 404, 404, 404), why="only its invitee")
    ),
    "teams:team-matrix": one(Case(args=lambda w: [w.team.slug], get=TEAM)),
    "teams:team-matrix-csv": one(Case(args=lambda w: [w.team.slug], get=TEAM_REVIEWERS)),
    "teams:team-weakest": one(Case(args=lambda w: [w.team.slug], get=TEAM)),
    "teams:team-inactive": one(Case(args=lambda w: [w.team.slug], get=TEAM_REVIEWERS)),
    "teams:member-dashboard": one(
        Case(args=lambda w: [w.team.slug, w.owner.username], get=row(OK, 403, 404, OK, OK, 404), why="own page is ok")
    ),
    "teams:member-progress": one(
        Case(args=lambda w: [w.team.slug, w.owner.username, "llm"], get=row(OK, 403, 404, OK, OK, 404))
    ),
    # --- gates, reviews, credentials -----------------------------------------------------------
    "gates:request-list": one(Case(get=SIGNED_IN)),
    "gates:request-open": one(Case(args=lambda w: ["llm", w.layer1.slug], post=SIGNED_IN, why="opens your own")),
    "gates:request-detail": one(
        Case(args=lambda w: [w.draft.pk], get=GATE_READERS),
        Case(args=lambda w: [w.submitted.pk], get=GATE_READERS),
    ),
    "gates:request-update": one(
        Case(
            args=lambda w: [w.draft.pk],
            post=row(OK, 404, 404, 403, 403, 403),
            data=lambda w: {"explanation": "new", "ticks": ["0"]},
        )
    ),
    "gates:evidence-add": one(
        Case(
            args=lambda w: [w.draft.pk], post=row(OK, 404, 404, 403, 403, 403), data=lambda w: {"version": w.version.pk}
        ),
        Case(
            args=lambda w: [w.draft.pk], post=row(OK, 404, 404, 403, 403, 403), data=lambda w: {"result": w.result.pk}
        ),
        Case(
            args=lambda w: [w.draft.pk],
            post=row(404, 404, 404, 404, 404, 404),
            data=lambda w: {"version": w.peer_version.pk},
            why="someone else's version does not exist for this request",
        ),
        Case(
            args=lambda w: [w.draft.pk],
            post=row(404, 404, 404, 404, 404, 404),
            data=lambda w: {"result": w.peer_result.pk},
            why="someone else's results do not exist for this request",
        ),
    ),
    "gates:evidence-remove": one(
        Case(args=lambda w: [w.draft.pk, w.evidence.pk], post=row(OK, 404, 404, 403, 403, 403))
    ),
    "gates:request-submit": one(Case(args=lambda w: [w.draft.pk], post=row(OK, 404, 404, 403, 403, 403))),
    "gates:request-withdraw": one(Case(args=lambda w: [w.submitted.pk], post=row(OK, 404, 404, 403, 403, 403))),
    "gates:request-reopen": one(
        Case(args=lambda w: [w.approved.pk], post=row(OK, 404, 404, OK, OK, 403), data=lambda w: {"reason": "A bug."})
    ),
    "gates:reply-create": one(
        Case(
            args=lambda w: [w.submitted.pk],
            post=row(OK, 404, 404, OK, OK, 403),
            data=lambda w: {"body": "A question about the evidence."},
            why="the learner and the deciders talk; staff read only",
        ),
        Case(
            args=lambda w: [w.draft.pk],
            post=row(422, 404, 404, 422, 422, 403),
            data=lambda w: {"body": "Too early."},
            why="a draft's thread is not open yet: the refusal shows on the page (422); staff never write in it",
        ),
    ),
    "gates:history-detail": one(Case(args=lambda w: [w.submitted.pk], get=GATE_READERS)),
    "gates:history-json": one(Case(args=lambda w: [w.submitted.pk], get=GATE_READERS)),
    "gates:history-csv": one(Case(args=lambda w: [w.submitted.pk], get=GATE_READERS)),
    "gates:credential-issue": one(Case(args=lambda w: [w.approved.pk], post=row(OK, 404, 404, 403, 403, 403))),
    "gates:review-list": one(Case(get=SIGNED_IN)),
    "gates:review-detail": one(
        Case(args=lambda w: [w.submitted.pk], get=row(403, 404, 404, OK, OK, OK)),
        Case(args=lambda w: [w.reviewers_own.pk], get=row(404, 404, 404, 403, OK, OK), why="never your own"),
    ),
    "gates:review-start": one(
        Case(args=lambda w: [w.submitted.pk], post=row(403, 404, 404, OK, OK, 403)),
        Case(args=lambda w: [w.reviewers_own.pk], post=row(404, 404, 404, 403, OK, 403), why="never your own"),
    ),
    "gates:review-keep": one(
        Case(
            args=lambda w: [w.approved.pk],
            post=row(403, 404, 404, 422, 422, 403),
            data=lambda w: {"reason": "I watched it run."},
            why="an approval no regrade flagged has nothing to keep (422 with the reason)",
        ),
    ),
    "gates:review-decide": one(
        Case(
            args=lambda w: [w.submitted.pk],
            post=row(403, 404, 404, OK, OK, 403),
            data=lambda w: {"decision": "approve", "mark_0": "met", "mark_1": "met", "comment": "Good."},
        ),
        Case(
            args=lambda w: [w.reviewers_own.pk],
            post=row(404, 404, 404, 403, OK, 403),
            data=lambda w: {"decision": "approve", "mark_0": "met", "mark_1": "met", "comment": "Good."},
            why="never your own",
        ),
    ),
    "gates:credential-keys": one(Case(get=PUBLIC)),
    "gates:credential-verify": one(
        Case(
            get=PUBLIC,
            post=PUBLIC,
            query=lambda w: f"?id={w.credential.pk}",
            data=lambda w: {"credential": str(w.credential.pk)},
        )
    ),
    "gates:credential-detail": one(Case(args=lambda w: [w.credential.pk], get=PUBLIC, why="shared on purpose")),
    "gates:credential-download": one(Case(args=lambda w: [w.credential.pk], get=PUBLIC, why="shared on purpose")),
    "gates:credential-issuer": one(Case(get=PUBLIC)),
    "gates:credential-key": one(
        Case(args=lambda w: [credentials.key_id(credentials.signing_key().public_key())], get=PUBLIC)
    ),
    "gates:credential-status": one(Case(get=PUBLIC)),
    # --- portfolio ------------------------------------------------------------------------------
    "portfolio:artifact-list": one(Case(get=SIGNED_IN)),
    "portfolio:artifact-create": one(Case(get=SIGNED_IN, post=SIGNED_IN, data=lambda w: {"title": "Mine"})),
    "portfolio:artifact-detail": one(Case(args=lambda w: [w.artifact.pk], get=OWNER_AND_REVIEWERS)),
    "portfolio:version-create": one(
        Case(
            args=lambda w: [w.artifact.pk],
            get=OWNER,
            post=OWNER,
            data=lambda w: {"file": upload(), "notes": "v2"},
        )
    ),
    "portfolio:version-download": one(Case(args=lambda w: [w.artifact.pk, 1], get=OWNER_AND_REVIEWERS)),
    "portfolio:version-run": one(Case(args=lambda w: [w.artifact.pk, 1], post=OWNER)),
    "portfolio:results-create": one(
        Case(
            args=lambda w: [w.artifact.pk],
            get=OWNER,
            post=OWNER,
            data=lambda w: {"text": json.dumps(GENERIC_RESULTS), "notes": "measured"},
        )
    ),
    "portfolio:result-detail": one(Case(args=lambda w: [w.result.pk], get=OWNER_AND_REVIEWERS)),
    "portfolio:schema-detail": one(Case(args=lambda w: ["generic"], get=PUBLIC)),
    "portfolio:contract-file": one(Case(args=lambda w: [contracts.KV, contracts.MODULE_FILE], get=PUBLIC)),
    "portfolio:run-detail": one(
        Case(args=lambda w: [w.finished_run.pk], get=OWNER_AND_REVIEWERS),
        Case(
            args=lambda w: [w.finished_run.pk],
            query=lambda w: f"?compare={w.peer_run.pk}",
            get=row(404, 404, 404, 404, 404, 404),
            why="only earlier runs of the same artifact compare",
        ),
    ),
    "portfolio:run-cancel": one(Case(args=lambda w: [w.finished_run.pk], post=OWNER)),
    "portfolio:run-rerun": one(Case(args=lambda w: [w.finished_run.pk], post=OWNER)),
    # --- the public catalogue -------------------------------------------------------------------
    "roadmap:roadmap-list": one(Case(get=PUBLIC)),
    "favicon": one(Case(get=PUBLIC)),
    "roadmap:roadmap-detail": one(Case(args=lambda w: ["llm"], get=PUBLIC)),
    "roadmap:layer-detail": one(Case(args=lambda w: ["llm", w.layer1.slug], get=PUBLIC)),
    "roadmap:topic-detail": one(Case(args=lambda w: ["llm", w.topic.slug], get=PUBLIC)),
    "roadmap:artifact-list": one(Case(args=lambda w: ["llm"], get=PUBLIC)),
    "roadmap:artifact-detail": one(Case(args=lambda w: ["llm", w.spec.code], get=PUBLIC)),
    "roadmap:artifact-template": one(Case(args=lambda w: ["llm", w.spec.code, "cost-model.md"], get=PUBLIC)),
    "roadmap:level-list": one(Case(args=lambda w: ["llm"], get=PUBLIC)),
    "roadmap:path-list": one(Case(args=lambda w: ["llm"], get=PUBLIC)),
    "roadmap:path-detail": one(Case(args=lambda w: ["llm", w.path.slug], get=PUBLIC)),
    "roadmap:checklist-list": one(Case(args=lambda w: ["llm"], get=PUBLIC)),
    "roadmap:resource-list": one(Case(args=lambda w: ["llm"], get=PUBLIC)),
    # --- the API (token auth; each role sends its own token) ----------------------------------
    "api-1:openapi-json": one(Case(get=API_PUBLIC)),
    "api-1:openapi-view": one(Case(get=API_PUBLIC)),
    "api-1:api-root": one(
        Case(
            get=row(404, 404, 404, 404, 404, 404, anonymous=404), why="django-ninja's anchor for reverse(); a 404 page"
        )
    ),
    "api-1:list_roadmaps": one(Case(get=API_PUBLIC)),
    "api-1:get_roadmap": one(Case(args=lambda w: ["llm"], get=API_PUBLIC)),
    "api-1:me": one(Case(get=API_SIGNED_IN)),
    "api-1:progress": one(Case(get=API_SIGNED_IN)),
    "api-1:progress_update": one(
        Case(args=lambda w: ["llm", w.topic.slug], put=API_SIGNED_IN, data=lambda w: {"status": "learning"})
    ),
    "api-1:create_gate_request": one(
        Case(
            args=lambda w: ["llm", w.layer1.slug],
            post=api_row(200, 201, 201, 201, 201, 201),
            data=lambda w: {"explanation": "Mine.", "submit": False},
            why="the owner's draft is updated (200); everyone else opens their own (201)",
        )
    ),
    "api-1:get_gate_request": one(Case(args=lambda w: [w.submitted.pk], get=api_row(200, 404, 404, 200, 200, 200))),
    "api-1:pending_reviews": one(Case(get=API_SIGNED_IN)),
    "api-1:create_reply": one(
        Case(
            args=lambda w: [w.submitted.pk],
            post=api_row(201, 404, 404, 201, 201, 403),
            data=lambda w: {"body": "A question about the evidence."},
        ),
        Case(
            args=lambda w: [w.draft.pk],
            post=api_row(409, 404, 404, 409, 409, 403),
            data=lambda w: {"body": "Too early."},
            why="a draft's thread is not open yet (the state, 409); staff never write in it (403)",
        ),
    ),
    "api-1:decide_gate_request": one(
        Case(
            args=lambda w: [w.submitted.pk],
            post=api_row(403, 404, 404, 200, 200, 403),
            data=lambda w: {"decision": "approve", "marks": ["met", "met"], "comment": "Solid."},
        ),
        Case(
            args=lambda w: [w.reviewers_own.pk],
            post=api_row(404, 404, 404, 403, 200, 403),
            data=lambda w: {"decision": "approve", "marks": ["met", "met"], "comment": "Solid."},
            why="never your own",
        ),
    ),
    "api-1:artifacts": one(
        Case(get=API_SIGNED_IN, post=api_row(201, 201, 201, 201, 201, 201), data=lambda w: {"title": "Mine"})
    ),
    "api-1:artifact-versions": one(
        Case(
            args=lambda w: [w.artifact.pk],
            get=api_row(200, 404, 404, 200, 200, 404),
            post=api_row(201, 404, 404, 404, 404, 404),
            data=lambda w: {"file": upload(), "notes": "v2"},
        )
    ),
    "api-1:create_results": one(
        Case(
            args=lambda w: [w.artifact.pk],
            post=api_row(201, 404, 404, 404, 404, 404),
            data=lambda w: {"document": GENERIC_RESULTS},
        )
    ),
    "api-1:get_run": one(Case(args=lambda w: [w.finished_run.pk], get=api_row(200, 404, 404, 200, 200, 404))),
    "api-1:get_artifact": one(Case(args=lambda w: [w.artifact.pk], get=api_row(200, 404, 404, 200, 200, 404))),
    "api-1:list_runs": one(Case(get=API_SIGNED_IN)),
    "api-1:list_results": one(Case(get=API_SIGNED_IN)),
    "api-1:get_result": one(Case(args=lambda w: [w.result.pk], get=api_row(200, 404, 404, 200, 200, 404))),
    "api-1:list_gate_requests": one(Case(get=API_SIGNED_IN)),
    "api-1:list_notes": one(Case(get=API_SIGNED_IN)),
    "api-1:list_self_assessments": one(Case(get=API_SIGNED_IN)),
    "api-1:list_results_schemas": one(Case(get=API_PUBLIC)),
    "api-1:results-schema": one(Case(args=lambda w: ["generic"], get=API_PUBLIC)),
}

# The admin is one class, "staff only", checked on a few of its URLs.
ADMIN_SAMPLES: dict[str, Callable[[Any], Sequence[object]]] = {
    "admin:index": lambda w: (),
    "admin:accounts_user_changelist": lambda w: (),
    "admin:accounts_user_change": lambda w: [w.owner.pk],
    "admin:portfolio_artifact_change": lambda w: [w.artifact.pk],
    "admin:portfolio_artifactversion_changelist": lambda w: (),
    "admin:assessments_gaterequest_change": lambda w: [w.submitted.pk],
    "admin:accounts_apitoken_changelist": lambda w: (),
}


# -------------------------------------------------------------------------------------------------
# What the owner has that others must not read. Each string is unique to the world.

NOTE = "ada-note-e81c: my private topic note"
LINK = "https://example.org/ada-private-link-77d2"
EMAIL = "ada-private-3f9a@example.org"
ARTIFACT_NOTES = "ada-artifact-notes-5b1e"
VERSION_NOTES = "ada-version-notes-c4d0"
RESULT_NOTES = "ada-result-notes-09aa"
EXPLANATION = "ada-explanation-61f7"
JUSTIFICATION = "ada-justification-2d4b"


@dataclass(frozen=True)
class Secret:
    text: str
    readers: frozenset[str]
    what: str = ""


SECRETS: tuple[Secret, ...] = (
    Secret(NOTE, frozenset({"owner"}), "a private topic note"),
    Secret(LINK, frozenset({"owner"}), "a private topic link"),
    Secret(EMAIL, frozenset({"owner"}), "the owner's email (never shown to others)"),
    Secret(JUSTIFICATION, frozenset({"owner"}), "a self-assessment justification"),
    Secret(ARTIFACT_NOTES, frozenset({"owner", "reviewer", "lead"}), "artifact notes (evidence for reviewers)"),
    Secret(VERSION_NOTES, frozenset({"owner", "reviewer", "lead"}), "version notes"),
    Secret(RESULT_NOTES, frozenset({"owner", "reviewer", "lead"}), "results notes"),
    Secret(EXPLANATION, frozenset({"owner", "reviewer", "lead", "staff"}), "a gate explanation"),
)


# -------------------------------------------------------------------------------------------------


def walk(
    patterns: Sequence[URLPattern | URLResolver], prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, str, URLPattern]]:
    """(route, namespaced name or "", pattern) of every URL pattern, into every include."""
    for p in patterns:
        if isinstance(p, URLResolver):
            inner = f"{namespace}{p.namespace}:" if p.namespace else namespace
            yield from walk(p.url_patterns, prefix + str(p.pattern), inner)
        else:
            yield prefix + str(p.pattern), f"{namespace}{p.name}" if p.name else "", p


def ninja_methods(pattern: URLPattern) -> set[str] | None:
    """The HTTP methods of a django-ninja path (None for a Django view)."""
    for cell in getattr(pattern.callback, "__closure__", None) or ():
        operations = getattr(cell.cell_contents, "operations", None)
        if operations is not None:
            return {m.lower() for op in operations for m in op.methods}
    return None


class PermissionMatrixTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        roadmap = create_roadmap(slug="llm", title="LLM Systems")
        level = create_level(roadmap=roadmap, number=1, title="Builder")
        cls.layer1 = create_layer(roadmap=roadmap, number=1, slug="kv-cache")
        layer2 = create_layer(roadmap=roadmap, number=2, slug="batching")
        layer3 = create_layer(roadmap=roadmap, number=3, slug="serving")
        cls.topic = create_topic(layer=cls.layer1, slug="paged-attention")
        cls.path = create_path(roadmap=roadmap, topics=(cls.topic,), slug="fast-track")
        cls.spec = create_artifact_spec(
            roadmap=roadmap,
            kind=ArtifactSpec.Kind.KV_CALCULATOR,
            code="09",
            templates=[{"title": "Cost model template", "file": "cost-model.md"}],
        )
        gate1 = create_gate(layer=cls.layer1, level=level, artifacts=(cls.spec,))
        gate2 = create_gate(layer=layer2, level=level)
        gate3 = create_gate(layer=layer3, level=level)

        cls.owner = create_user(username="ada", email=EMAIL, display_name=f"Ada {HOSTILE_TEXT}")
        cls.peer = create_user(username="bob", email="bob@example.org", display_name=f"Bob {HOSTILE_TEXT}")
        cls.outsider = create_user(username="olga", email="olga@example.org")
        cls.reviewer = create_user(username="rita", email="rita@example.org")
        cls.lead = create_user(username="leo", email="leo@example.org")
        cls.staff = create_user(username="sam", email="sam@example.org", is_staff=True, is_superuser=True)
        cls.team = create_team(
            name=f"Inference {HOSTILE_TEXT}",
            description=f"We serve. {HOSTILE_TEXT}",
            members={cls.owner: "member", cls.peer: "member", cls.reviewer: "reviewer", cls.lead: "lead"},
        )
        create_team(name="Training", members={cls.outsider: "reviewer"})
        cls.peer_membership = Membership.objects.get(team=cls.team, user=cls.peer)

        create_progress(user=cls.owner, topic=cls.topic, status="learning", confidence=3)
        create_assessment(user=cls.owner, layer=cls.layer1, level=2, justification=JUSTIFICATION + HOSTILE_MARKDOWN)
        create_note(user=cls.owner, topic=cls.topic, body=NOTE + HOSTILE_MARKDOWN)
        cls.link = create_link(user=cls.owner, topic=cls.topic, url=LINK, title=HOSTILE_TEXT)
        cls.artifact = create_artifact(
            owner=cls.owner, spec=cls.spec, title=f"KV {HOSTILE_TEXT}", notes=ARTIFACT_NOTES + HOSTILE_MARKDOWN
        )
        cls.version = create_version(
            artifact=cls.artifact, filename=HOSTILE_FILENAME, notes=VERSION_NOTES + HOSTILE_MARKDOWN
        )
        cls.finished_run = finish_run(create_run(version=cls.version))
        hostile_results = {"summary": HOSTILE_TEXT, "metrics": {HOSTILE_TEXT: 1.0}}
        cls.result = cls.artifact.add_results(
            hostile_results, version=cls.version, notes=RESULT_NOTES + HOSTILE_MARKDOWN
        )

        explanation = EXPLANATION + HOSTILE_MARKDOWN
        cls.draft = create_gate_request(learner=cls.owner, gate=gate1, explanation=explanation, versions=(cls.version,))
        cls.evidence = cls.draft.evidence.get()
        cls.submitted = create_gate_request(learner=cls.owner, gate=gate2, explanation=explanation, submit=True)
        cls.submitted.reply(by=cls.owner, body=HOSTILE_MARKDOWN)
        cls.approved = create_gate_request(learner=cls.owner, gate=gate3, explanation=explanation, submit=True)
        cls.approved.approve(by=cls.reviewer, marks=["met", "met"], comment=HOSTILE_MARKDOWN)
        cls.credential = cls.approved.issue_credential(by=cls.owner)
        cls.reviewers_own = create_gate_request(learner=cls.reviewer, gate=gate2, submit=True)

        peer_artifact = create_artifact(owner=cls.peer, spec=cls.spec, title="Bob's calculator")
        cls.peer_version = create_version(artifact=peer_artifact, filename="kv_calculator.py")
        cls.peer_run = finish_run(create_run(version=cls.peer_version))
        cls.peer_result = peer_artifact.add_results(GENERIC_RESULTS)

        cls.notification = create_notification(
            user=cls.owner, title=f"Run passed {HOSTILE_TEXT}", url=cls.finished_run.get_absolute_url()
        )
        cls.token, cls.owner_raw_token = create_token(user=cls.owner)
        cls.tokens = {"owner": cls.owner_raw_token}
        for role in ROLES[2:]:
            cls.tokens[role] = create_token(user=getattr(cls, role))[1]

        cls.invite, cls.invite_token = create_invite(team=cls.team, by=cls.lead)
        cls.addressed, _ = create_invite(team=cls.team, by=cls.lead)
        TeamInvite.objects.filter(pk=cls.addressed.pk).update(invitee=cls.outsider)
        cls.owner_uid = urlsafe_base64_encode(force_bytes(cls.owner.pk))

    def setUp(self) -> None:
        """One session per role, logged in once: each request sends its role's session cookie (a
        request that logs out or rotates the session is rolled back, and the next one starts again
        from the saved cookie)."""
        super().setUp()
        self.sessions: dict[str, str] = {}
        for role in ROLES[1:]:
            self.client.cookies = SimpleCookie()
            self.client.force_login(getattr(self, role))
            self.sessions[role] = self.client.cookies[settings.SESSION_COOKIE_NAME].value

    # --- requests ---------------------------------------------------------------------------

    def call(self, role: str, method: str, url: str, data: dict[str, Any], *, api: bool) -> HttpResponseBase:
        cache.clear()  # rate-limit counters: each request is a first attempt
        with transaction.atomic():
            self.client.cookies = SimpleCookie()
            headers: dict[str, str] = {}
            if api:
                if role != "anonymous":
                    headers["Authorization"] = f"Bearer {self.tokens[role]}"
            elif role != "anonymous":
                self.client.cookies[settings.SESSION_COOKIE_NAME] = self.sessions[role]
            if method == "get":
                response = self.client.get(url, headers=headers)
            elif api and not any(isinstance(v, SimpleUploadedFile) for v in data.values()):
                send = getattr(self.client, method)
                response = send(url, json.dumps(data), content_type="application/json", headers=headers)
            else:
                response = getattr(self.client, method)(url, data, headers=headers)
            body = b"".join(response.streaming_content) if response.streaming else response.content
            response.body_text = body.decode("utf-8", errors="replace")  # type: ignore[attr-defined]
            transaction.set_rollback(True)
        return response

    @staticmethod
    def outcome(response: HttpResponseBase, *, api: bool = False) -> object:
        if api:
            return response.status_code
        location = response.get("Location", "")
        if response.status_code == 302 and location.startswith(reverse("admin:login")):
            return ADMIN_LOGIN
        if response.status_code == 302 and location.startswith(reverse("accounts:login")):
            return LOGIN
        if 200 <= response.status_code < 400:
            return OK
        return response.status_code

    def leaks(self, role: str, response: HttpResponseBase) -> list[str]:
        text = response.body_text  # type: ignore[attr-defined]
        found = [s.what for s in SECRETS if role not in s.readers and s.text in text]
        if self.owner_raw_token in text:
            found.append("the owner's API token")
        return found

    def url_for(self, name: str, case: Case) -> str:
        url = reverse(name, args=list(case.args(self)))
        return url + case.query(self)

    def check_entry(self, name: str) -> None:
        api = name.startswith("api-1:")
        for case in EXPECTATIONS[name]:
            url = self.url_for(name, case)
            for method, expected in case.methods().items():
                for role in ROLES:
                    with self.subTest(url=url, method=method.upper(), role=role, name=name):
                        response = self.call(role, method, url, case.data(self), api=api)
                        got = self.outcome(response, api=api)
                        assert got == expected[role], (
                            f"{method.upper()} {url} as {role}: {got}, expected {expected[role]}"
                        )
                        assert not self.leaks(role, response), (
                            f"{method.upper()} {url} as {role} shows {self.leaks(role, response)}"
                        )
                        if response.get("Content-Type", "").startswith("text/html"):
                            assert not script_in(response.body_text), (
                                f"{method.upper()} {url} as {role}: {script_in(response.body_text)}"
                            )
                        if api and name not in ("api-1:openapi-view", "api-1:api-root"):
                            assert response["Content-Type"].startswith("application/json"), response["Content-Type"]

    def check_area(self, prefix: str) -> None:
        names = [n for n in EXPECTATIONS if n.startswith(prefix)]
        assert names, prefix
        for name in names:
            self.check_entry(name)

    # --- coverage -------------------------------------------------------------------------------

    def test_every_url_pattern_is_in_the_table(self):
        routes = list(walk(get_resolver().url_patterns))
        unnamed = [route for route, name, _ in routes if not name and not route.startswith("admin/")]
        assert not unnamed, f"URL patterns without a name (name them, then add them to EXPECTATIONS): {unnamed}"
        names = {name for route, name, _ in routes if name and not name.startswith("admin:")}
        missing = sorted(names - set(EXPECTATIONS))
        assert not missing, f"URL patterns with no entry in tests/test_permissions.py EXPECTATIONS: {missing}"
        stale = sorted(set(EXPECTATIONS) - names)
        assert not stale, f"EXPECTATIONS entries for URLs that no longer exist: {stale}"
        admin = {name for route, name, _ in routes if name.startswith("admin:")}
        assert set(ADMIN_SAMPLES) <= admin

    def test_every_api_endpoint_declares_exactly_its_methods(self):
        for route, name, pattern in walk(get_resolver().url_patterns):
            methods = ninja_methods(pattern)
            if methods is None or name not in EXPECTATIONS:
                continue
            for case in EXPECTATIONS[name]:
                with self.subTest(name=name):
                    assert set(case.methods()) == methods, f"{name} ({route}) answers {sorted(methods)}"

    def test_methods_a_view_does_not_declare_are_refused(self):
        """So the table's methods are the view's: a GET that changes something, or a page that
        also takes a POST nobody declared, shows up here (tried as the owner, who may do most)."""
        for name, cases in EXPECTATIONS.items():
            if name.startswith("api-1:"):
                continue
            case = cases[0]
            url = self.url_for(name, case)
            for method in {"get", "post"} - set(case.methods()):
                with self.subTest(url=url, method=method.upper()):
                    response = self.call("owner", method, url, case.data(self), api=False)
                    assert response.status_code == 405, f"{method.upper()} {url}: {response.status_code}"

    def test_every_post_outside_the_api_needs_the_csrf_token(self):
        """tests/accounts/test_csrf.py shows how htmx sends the token; this checks that no view, public
        or not, was exempted (the API is, by design: it reads tokens, never cookies)."""
        browser = Client(enforce_csrf_checks=True)
        for name, cases in EXPECTATIONS.items():
            case = cases[0]
            if name.startswith("api-1:") or case.post is None:
                continue
            url = self.url_for(name, case)
            for role in ("anonymous", "owner"):
                with self.subTest(url=url, role=role), transaction.atomic():
                    browser.cookies = SimpleCookie()
                    if role == "owner":
                        browser.cookies[settings.SESSION_COOKIE_NAME] = self.sessions[role]
                    response = browser.post(url, case.data(self), headers={"HX-Request": "true"})
                    transaction.set_rollback(True)
                    refused = response.status_code == 403 and b"CSRF" in response.content
                    assert refused or self.outcome(response) == LOGIN, f"POST {url} as {role}: {response.status_code}"

    def test_the_leak_check_finds_each_secret_where_its_readers_look(self):
        """Otherwise "no data leaked" could pass because the strings are on no page at all."""
        topic = reverse("roadmap:topic-detail", args=["llm", self.topic.slug])
        artifact = self.artifact.get_absolute_url()
        where = {
            NOTE: topic,
            LINK: topic,
            EMAIL: reverse("accounts:profile"),
            JUSTIFICATION: reverse("assessments:assessment-detail", args=["llm", self.layer1.slug]),
            ARTIFACT_NOTES: artifact,
            VERSION_NOTES: artifact,
            RESULT_NOTES: self.result.get_absolute_url(),
            EXPLANATION: self.submitted.get_absolute_url(),
        }
        assert set(where) == {s.text for s in SECRETS}
        for secret in SECRETS:
            for role in sorted(secret.readers):
                with self.subTest(secret=secret.what, role=role):
                    response = self.call(role, "get", where[secret.text], {}, api=False)
                    assert response.status_code == 200 and secret.text in response.body_text  # type: ignore[attr-defined]

    # --- the matrix -----------------------------------------------------------------------------

    def test_accounts(self):
        self.check_area("accounts:")

    def test_the_learners_own_pages(self):
        self.check_area("assessments:")

    def test_teams(self):
        self.check_area("teams:")

    def test_gates_reviews_and_credentials(self):
        self.check_area("gates:")

    def test_portfolio(self):
        self.check_area("portfolio:")

    def test_public_catalogue(self):
        self.check_area("roadmap:")

    def test_api(self):
        self.check_area("api-1:")

    def test_admin_is_for_staff_only(self):
        for name, args in ADMIN_SAMPLES.items():
            url = reverse(name, args=list(args(self)))
            for role in ROLES:
                with self.subTest(url=url, role=role):
                    response = self.call(role, "get", url, {}, api=False)
                    got, expected = self.outcome(response), ADMIN[role]
                    assert got in expected if isinstance(expected, frozenset) else got == expected, f"{url}: {got}"
                    assert role == "staff" or not self.leaks(role, response)
