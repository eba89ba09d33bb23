from __future__ import annotations

from django.db import DatabaseError, IntegrityError, transaction
from django.test import TestCase

from accounts.models import User
from assessments.export import delete_account
from assessments.models import AuditEvent, AuditImmutable, GateRequest
from tests.assessments.gates import GateWorld
from tests.factories import create_gate_request


class AuditAppendOnlyTests(GateWorld, TestCase):
    def setUp(self):
        self.request = create_gate_request(learner=self.learner, gate=self.gate, versions=(self.version,), submit=True)
        self.event = AuditEvent.objects.filter(request_id=self.request.pk).last()

    def test_the_model_refuses_to_save_twice_or_delete(self):
        self.event.action = "approved"
        with self.assertRaises(AuditImmutable):
            self.event.save()
        with self.assertRaises(AuditImmutable):
            self.event.delete()

    def test_the_queryset_refuses_update_and_delete(self):
        with self.assertRaises(AuditImmutable):
            AuditEvent.objects.filter(pk=self.event.pk).update(action="approved")
        with self.assertRaises(AuditImmutable):
            AuditEvent.objects.all().delete()

    def test_the_database_refuses_to_change_any_column_under_the_orm(self):
        plain = AuditEvent._base_manager  # a plain QuerySet: only the triggers stand in the way
        changes = {
            "id": self.event.pk + 1000,
            "request_id": self.request.pk + 1,
            "action": "approved",
            "from_status": "approved",
            "to_status": "approved",
            "created_at": self.event.created_at.replace(year=2000),
            "payload": {"forged": True},
            "actor_id": self.reviewer.pk,
        }
        columns = {f.column for f in AuditEvent._meta.concrete_fields}
        assert columns == set(changes), "every column must be covered by the triggers and this test"
        assert set(AuditEvent.FROZEN_COLUMNS) == columns - {"actor_id"}
        for column, value in changes.items():
            with self.subTest(column=column), self.assertRaises((IntegrityError, DatabaseError)), transaction.atomic():
                plain.filter(pk=self.event.pk).update(**{column: value})
        with self.assertRaises((IntegrityError, DatabaseError)), transaction.atomic():
            plain.filter(pk=self.event.pk).delete()
        self.event.refresh_from_db()
        assert (self.event.action, self.event.actor) == ("submitted", self.learner)

    def test_deleting_an_actors_account_keeps_their_events_without_their_name(self):
        r = self.request
        r.approve(by=self.reviewer, marks=["met", "met"])
        approved = AuditEvent.objects.get(request_id=r.pk, action="approved")

        self.reviewer.delete()

        approved.refresh_from_db()
        assert approved.actor is None and approved.actor_name == "a deleted account"
        assert approved.payload["evidence"][0]["sha256"] == self.version.sha256

    def test_a_learner_deleting_their_account_leaves_the_anonymised_trail(self):
        request_id = self.request.pk
        count = AuditEvent.objects.filter(request_id=request_id).count()

        delete_account(User.objects.get(pk=self.learner.pk))

        assert not GateRequest.objects.filter(pk=request_id).exists()
        events = AuditEvent.objects.filter(request_id=request_id)
        assert events.count() == count and not events.filter(actor__isnull=False).exists()
        assert events.get(action="submitted").payload["evidence"][0]["sha256"] == self.version.sha256
