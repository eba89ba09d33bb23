"""The people and content the gate tests share: one team with a learner, a reviewer, a lead and
another learner; a reviewer of another team; staff; a gate of level 1 that requires a runnable
artifact, and the learner's version of it with a passing, sandboxed run."""

from __future__ import annotations

from django.db import connection

from accounts.models import Membership
from roadmap.models import ArtifactSpec
from tests.factories import (
    create_artifact,
    create_artifact_spec,
    create_gate,
    create_layer,
    create_level,
    create_roadmap,
    create_run,
    create_team,
    create_user,
    create_version,
    finish_run,
)

MEMBER, REVIEWER, LEAD = Membership.Role.MEMBER, Membership.Role.REVIEWER, Membership.Role.LEAD


class GateWorld:
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()  # type: ignore[misc]
        cls.roadmap = create_roadmap(slug="llm", title="LLM Systems", content_version="c0ffee" * 4)
        cls.level1 = create_level(roadmap=cls.roadmap, number=1, title="Builder")
        cls.layer = create_layer(roadmap=cls.roadmap, number=7, slug="kv-cache", title="KV Cache")
        cls.spec = create_artifact_spec(
            roadmap=cls.roadmap, kind=ArtifactSpec.Kind.KV_CALCULATOR, code="09", title="KV Cache Calculator"
        )
        cls.gate = create_gate(layer=cls.layer, level=cls.level1, artifacts=(cls.spec,))
        cls.learner = create_user(username="lena", display_name="Lena Learner")
        cls.reviewer = create_user(username="rita", display_name="Rita Reviewer")
        cls.lead = create_user(username="leo", display_name="Leo Lead")
        cls.other_learner = create_user(username="otto")
        cls.outsider = create_user(username="olga", display_name="Olga Elsewhere")
        cls.staff = create_user(username="sam", is_staff=True)
        cls.team = create_team(
            name="Inference",
            members={cls.learner: MEMBER, cls.reviewer: REVIEWER, cls.lead: LEAD, cls.other_learner: MEMBER},
        )
        cls.other_team = create_team(name="Training", members={cls.outsider: REVIEWER})
        cls.artifact = create_artifact(owner=cls.learner, spec=cls.spec, title="My KV calculator")
        cls.version = create_version(artifact=cls.artifact, data=b"print('v1')\n", filename="kv.py")
        cls.passing_run = finish_run(create_run(version=cls.version))


# The SQLite DELETE trigger of migration assessments/0003, as it is there.
DROP_DELETE_TRIGGER = "DROP TRIGGER IF EXISTS assessments_auditevent_no_delete"
CREATE_DELETE_TRIGGER = """CREATE TRIGGER IF NOT EXISTS assessments_auditevent_no_delete BEFORE DELETE ON assessments_auditevent
    BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END"""


class FlushableAuditMixin:
    """For TransactionTestCase (live-server, browser) tests that write audit events.

    Such tests end by emptying every table; on SQLite that is a DELETE, which the audit trail's
    trigger refuses (PostgreSQL empties with TRUNCATE, which it allows). This drops the trigger
    just before the flush and puts it back before the next test, so the tests themselves still
    run against an append-only table."""

    def setUp(self) -> None:
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute(CREATE_DELETE_TRIGGER)
        super().setUp()  # type: ignore[misc]

    def _fixture_teardown(self) -> None:
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute(DROP_DELETE_TRIGGER)
        super()._fixture_teardown()  # type: ignore[misc]
