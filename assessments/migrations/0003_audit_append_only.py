"""Audit events are append-only in the database too, not only in the ORM.

UPDATE of any column but actor_id is refused; actor_id may only become NULL (the actor's account
was deleted, so the trail outlives the people in it). DELETE is refused. PostgreSQL's TRUNCATE is
left alone: it is what test runs use to empty tables between TransactionTestCases.
"""

from __future__ import annotations

from django.db import migrations

FROZEN = "id, request_id, action, from_status, to_status, created_at, payload"
TABLE = "assessments_auditevent"
MESSAGE = "audit events are append-only"

SQLITE_UP = [
    f"""CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE OF {FROZEN} ON {TABLE}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER {TABLE}_actor_only_cleared BEFORE UPDATE OF actor_id ON {TABLE}
        WHEN NEW.actor_id IS NOT NULL BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
]
SQLITE_DOWN = [f"DROP TRIGGER IF EXISTS {TABLE}_{name}" for name in ("no_update", "actor_only_cleared", "no_delete")]

POSTGRES_UP = [
    f"""CREATE OR REPLACE FUNCTION {TABLE}_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '{MESSAGE}'; END $$""",
    f"""CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE OF {FROZEN} ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION {TABLE}_refuse()""",
    f"""CREATE TRIGGER {TABLE}_actor_only_cleared BEFORE UPDATE OF actor_id ON {TABLE}
        FOR EACH ROW WHEN (NEW.actor_id IS NOT NULL) EXECUTE FUNCTION {TABLE}_refuse()""",
    f"""CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION {TABLE}_refuse()""",
]
POSTGRES_DOWN = [
    *(f"DROP TRIGGER IF EXISTS {TABLE}_{name} ON {TABLE}" for name in ("no_update", "actor_only_cleared", "no_delete")),
    f"DROP FUNCTION IF EXISTS {TABLE}_refuse()",
]


def _run(statements: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("assessments", "0002_gates")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}),
            _run({"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}),
        ),
    ]
