from __future__ import annotations

from django.db import IntegrityError, transaction
from django.test import TestCase

from accounts.models import Membership, Notification
from assessments.models import AuditEvent, GateError, GateEvidence, GateRequest, NotAllowed
from tests.assessments.gates import REVIEWER, GateWorld
from tests.factories import create_gate_request, create_run, create_version, finish_run


def history(request: GateRequest) -> list[tuple[str, str, str]]:
    return list(AuditEvent.objects.filter(request_id=request.pk).values_list("action", "from_status", "to_status"))


class TransitionTests(GateWorld, TestCase):
    def test_every_legal_transition_moves_the_status_and_writes_its_audit_event(self):
        r = create_gate_request(learner=self.learner, gate=self.gate, versions=(self.version,))
        r.submit(by=self.learner)
        r.start_review(by=self.reviewer)
        r.request_changes(by=self.reviewer, comment="Show a GQA case too.", marks=["met", "not_met"])
        assert r.status == "changes_requested"
        r.submit(by=self.learner)
        r.approve(by=self.lead, marks=["met", "met"])  # straight from submitted: the review starts first
        assert r.status == "approved" and r.reviewer == self.lead and r.decided_at is not None
        r.reopen(by=self.reviewer, reason="The calculator ignores sliding windows.")
        r.submit(by=self.learner)
        r.withdraw(by=self.learner)

        assert history(r) == [
            ("created", "", "draft"),
            ("submitted", "draft", "submitted"),
            ("review_started", "submitted", "in_review"),
            ("changes_requested", "in_review", "changes_requested"),
            ("resubmitted", "changes_requested", "submitted"),
            ("review_started", "submitted", "in_review"),
            ("approved", "in_review", "approved"),
            ("reopened", "approved", "reopened"),
            ("resubmitted", "reopened", "submitted"),
            ("withdrawn", "submitted", "withdrawn"),
        ]
        events = list(AuditEvent.objects.filter(request_id=r.pk))
        assert [e.actor for e in events][:4] == [self.learner, self.learner, self.reviewer, self.reviewer]
        submitted = events[1].payload
        assert submitted["evidence"][0]["sha256"] == self.version.sha256
        assert (
            submitted["evidence"][0]["run"] == self.passing_run.pk
            and submitted["evidence"][0]["run_status"] == "succeeded"
        )
        assert events[3].payload["marks"][1] == {"criterion": "measured it", "mark": "not_met"}
        assert events[7].payload["reason"] == "The calculator ignores sliding windows."

    def test_illegal_transitions_raise_and_change_nothing(self):
        draft = create_gate_request(learner=self.learner, gate=self.gate, passing_evidence=True)
        attempts = [
            lambda: draft.approve(by=self.reviewer, marks=["met", "met"]),
            lambda: draft.request_changes(by=self.reviewer, comment="no"),
            lambda: draft.start_review(by=self.reviewer),
            lambda: draft.reopen(by=self.learner, reason="why not"),
        ]
        for attempt in attempts:
            with self.assertRaises(GateError) as caught:
                attempt()
            assert "draft" in caught.exception.message
        draft.submit(by=self.learner)
        for attempt in (lambda: draft.submit(by=self.learner), lambda: draft.reopen(by=self.lead, reason="x")):
            with self.assertRaises(GateError):
                attempt()
        draft.approve(by=self.reviewer, marks=["met", "met"])
        for attempt in (
            lambda: draft.withdraw(by=self.learner),
            lambda: draft.start_review(by=self.reviewer),
            lambda: draft.approve(by=self.reviewer, marks=["met", "met"]),
            lambda: draft.edit(by=self.learner, explanation="changed after the fact"),
            lambda: draft.pin(self.version, by=self.learner),
        ):
            with self.assertRaises(GateError):
                attempt()
        draft.refresh_from_db()
        assert draft.status == "approved" and draft.explanation == "I built it and measured it."
        assert [a for a, _, _ in history(draft)] == ["created", "submitted", "review_started", "approved"]

    def test_a_stale_copy_loses_cleanly_to_a_transition_made_meanwhile(self):
        r = create_gate_request(learner=self.learner, gate=self.gate, submit=True)
        stale = GateRequest.objects.get(pk=r.pk)
        r.withdraw(by=self.learner)
        with self.assertRaises(GateError):
            stale.start_review(by=self.reviewer)
        assert GateRequest.objects.get(pk=r.pk).status == "withdrawn"

    def test_submitting_needs_an_explanation(self):
        r = create_gate_request(learner=self.learner, gate=self.gate, explanation="")
        with self.assertRaises(GateError) as caught:
            r.submit(by=self.learner)
        assert caught.exception.field == "explanation" and r.status == "draft"

    def test_approving_needs_every_criterion_met_and_requesting_changes_a_comment(self):
        r = create_gate_request(learner=self.learner, gate=self.gate, submit=True)
        with self.assertRaises(GateError) as caught:
            r.approve(by=self.reviewer, marks=["met", "not_met"])
        assert caught.exception.field == "marks"
        with self.assertRaises(GateError) as caught:
            r.approve(by=self.reviewer, marks=["met"])
        assert "one mark per criterion (2)" in caught.exception.message
        with self.assertRaises(GateError) as caught:
            r.request_changes(by=self.reviewer, comment="  ")
        assert caught.exception.field == "comment"
        r.refresh_from_db()
        assert r.status == "submitted" and not r.reviews.exists()

    def test_reopening_needs_a_reason(self):
        r = create_gate_request(learner=self.learner, gate=self.gate, passing_evidence=True, submit=True)
        r.approve(by=self.reviewer, marks=["met", "met"])
        with self.assertRaises(GateError):
            r.reopen(by=self.learner, reason=" ")
        assert GateRequest.objects.get(pk=r.pk).status == "approved"


class WhoMayDecideTests(GateWorld, TestCase):
    def test_nobody_decides_their_own_request_even_a_reviewer_of_the_team(self):
        own = create_gate_request(learner=self.reviewer, gate=self.gate, passing_evidence=True, submit=True)

        with self.assertRaises(NotAllowed) as caught:
            own.approve(by=self.reviewer, marks=["met", "met"])
        assert "own gate" in caught.exception.message
        assert not own.can_be_decided_by(self.reviewer)
        assert own not in GateRequest.objects.decidable_by(self.reviewer)
        own.approve(by=self.lead, marks=["met", "met"])  # someone else of the team may
        assert own.status == "approved"

    def test_only_reviewers_and_leads_of_the_learners_team_decide(self):
        r = create_gate_request(learner=self.learner, gate=self.gate, passing_evidence=True, submit=True)
        for person in (self.outsider, self.other_learner, self.staff, self.learner):
            with self.assertRaises(NotAllowed):
                r.start_review(by=person)
        assert r.can_be_decided_by(self.reviewer) and r.can_be_decided_by(self.lead)

    def test_a_reviewer_who_leaves_the_team_loses_access_at_once(self):
        r = create_gate_request(learner=self.learner, gate=self.gate, submit=True)
        assert GateRequest.objects.visible_to(self.reviewer).filter(pk=r.pk).exists()

        Membership.objects.filter(team=self.team, user=self.reviewer).delete()

        assert not GateRequest.objects.visible_to(self.reviewer).filter(pk=r.pk).exists()
        with self.assertRaises(NotAllowed):
            r.approve(by=self.reviewer, marks=["met", "met"])

    def test_a_reviewer_demoted_to_member_loses_access_too(self):
        r = create_gate_request(learner=self.learner, gate=self.gate, submit=True)
        Membership.objects.filter(team=self.team, user=self.reviewer).update(role="member")
        assert not r.can_be_decided_by(self.reviewer)
        assert not GateRequest.objects.visible_to(self.reviewer).filter(pk=r.pk).exists()

    def test_only_the_learner_edits_submits_and_withdraws(self):
        r = create_gate_request(learner=self.learner, gate=self.gate)
        for attempt in (
            lambda: r.edit(by=self.reviewer, explanation="mine now"),
            lambda: r.submit(by=self.lead),
            lambda: r.withdraw(by=self.staff),
            lambda: r.pin(self.version, by=self.reviewer),
            lambda: r.issue_credential(by=self.reviewer),
        ):
            with self.assertRaises(NotAllowed):
                attempt()

    def test_only_the_learners_own_versions_can_be_pinned(self):
        r = create_gate_request(learner=self.other_learner, gate=self.gate)
        with self.assertRaises(NotAllowed):
            r.pin(self.version, by=self.other_learner)


class GateActionsTests(GateWorld, TestCase):
    def allowed(self, r: GateRequest, user) -> set[str]:
        actions = r.actions_for(user)
        return {name for name, value in vars(actions).items() if name.startswith("can_") and value}

    def test_the_actions_follow_who_asks_and_the_state_the_request_is_in(self):
        r = create_gate_request(learner=self.learner, gate=self.gate, passing_evidence=True)
        assert self.allowed(r, self.learner) == {"can_edit", "can_submit", "can_withdraw"}
        assert self.allowed(r, self.reviewer) == set() and r.actions_for(self.reviewer).is_decider

        r.submit(by=self.learner)
        assert self.allowed(r, self.learner) == {"can_withdraw"}
        assert self.allowed(r, self.reviewer) == {"can_start_review", "can_decide"}

        r.start_review(by=self.reviewer)
        assert self.allowed(r, self.lead) == {"can_decide"}

        r.approve(by=self.reviewer, marks=["met", "met"])
        assert self.allowed(r, self.learner) == {"can_reopen", "can_issue_credential"}
        assert self.allowed(r, self.lead) == {"can_reopen"}

        r.reopen(by=self.lead, reason="Redo the measurement.")
        assert self.allowed(r, self.learner) == {"can_edit", "can_submit", "can_withdraw"}
        r.withdraw(by=self.learner)
        assert self.allowed(r, self.learner) == set()

    def test_people_outside_the_learners_teams_may_do_nothing_staff_included(self):
        r = create_gate_request(learner=self.learner, gate=self.gate, submit=True)
        for person in (self.outsider, self.other_learner, self.staff):
            actions = r.actions_for(person)
            assert not (actions.is_learner or actions.is_decider), person
            assert self.allowed(r, person) == set(), person

    def test_what_the_actions_allow_the_verbs_do(self):
        r = create_gate_request(learner=self.learner, gate=self.gate, submit=True)
        assert r.actions_for(self.reviewer).can_start_review
        r.start_review(by=self.reviewer)
        assert not r.actions_for(self.reviewer).can_start_review
        with self.assertRaises(GateError):
            r.start_review(by=self.reviewer)

    def test_the_deciders_are_the_reviewers_and_leads_of_the_learners_teams_but_never_the_learner(self):
        r = create_gate_request(learner=self.learner, gate=self.gate)
        assert set(r.deciders()) == {self.reviewer, self.lead}
        own = create_gate_request(learner=self.reviewer, gate=self.gate)
        assert set(own.deciders()) == {self.lead}
        reviewers = Membership.objects.reviewers_of(self.learner.pk).values_list("user_id", flat=True)
        assert set(reviewers) == {self.reviewer.pk, self.lead.pk}


class OneLiveRequestTests(GateWorld, TestCase):
    def test_opening_twice_gives_the_same_request(self):
        first = GateRequest.open(self.learner, self.gate)
        assert GateRequest.open(self.learner, self.gate) == first
        assert GateRequest.objects.filter(learner=self.learner).count() == 1

    def test_the_database_refuses_a_second_live_request(self):
        GateRequest.open(self.learner, self.gate)
        with self.assertRaises(IntegrityError), transaction.atomic():
            GateRequest.objects.create(learner=self.learner, gate=self.gate)

    def test_after_withdrawing_a_new_request_can_be_opened(self):
        first = GateRequest.open(self.learner, self.gate)
        first.withdraw(by=self.learner)
        second = GateRequest.open(self.learner, self.gate)
        assert second != first and second.status == "draft"


class EvidenceTests(GateWorld, TestCase):
    def test_a_pinned_request_does_not_change_when_new_versions_and_runs_arrive(self):
        r = create_gate_request(learner=self.learner, gate=self.gate, versions=(self.version,), submit=True)
        before = r.evidence_snapshot()

        newer = create_version(artifact=self.artifact, data=b"print('v2')\n", filename="kv.py")
        finish_run(create_run(version=newer))
        finish_run(create_run(version=self.version), verdict="failed")  # a later run of the pinned version

        r.refresh_from_db()
        assert r.evidence_snapshot() == before
        (pinned,) = r.evidence.all()
        assert (pinned.version, pinned.sha256, pinned.run, pinned.run_status) == (
            self.version,
            self.version.sha256,
            self.passing_run,
            "succeeded",
        )

    def test_pinning_another_version_of_the_same_artifact_replaces_the_first(self):
        r = create_gate_request(learner=self.learner, gate=self.gate, versions=(self.version,))
        newer = create_version(artifact=self.artifact, data=b"print('v2')\n", filename="kv.py")
        r.pin(newer, by=self.learner)
        assert list(r.evidence.values_list("version", flat=True)) == [newer.pk]

    def test_submitting_pins_the_best_run_at_that_moment(self):
        newer = create_version(artifact=self.artifact, data=b"print('v2')\n", filename="kv.py")
        run = create_run(version=newer)
        r = create_gate_request(learner=self.learner, gate=self.gate, versions=(newer,))
        assert GateEvidence.objects.get(request=r).run_status == "queued"
        finish_run(run)
        r.submit(by=self.learner)
        pinned = GateEvidence.objects.get(request=r)
        assert (pinned.run, pinned.run_status, pinned.run_sandboxed) == (run, "succeeded", True)

    def test_gaps_are_pointed_out_and_do_not_block_submission(self):
        r = create_gate_request(learner=self.learner, gate=self.gate)
        (missing,) = r.requirements()
        assert missing.state == "missing" and "no version pinned" in missing.message

        untested = create_version(artifact=self.artifact, data=b"print('v3')\n", filename="kv.py")
        r.pin(untested, by=self.learner)
        assert r.requirements()[0].state == "no_run"
        run = create_run(version=untested)
        assert r.requirements()[0].state == "running"
        finish_run(run, verdict="failed")
        assert r.requirements()[0].state == "not_passed"
        finish_run(create_run(version=untested), sandboxed=False)
        assert r.requirements()[0].state == "unsandboxed"
        r.pin(self.version, by=self.learner)
        assert r.requirements()[0].ok

        r.pin(untested, by=self.learner)
        event = r.submit(by=self.learner)
        assert r.status == "submitted"
        assert event.payload["gaps"] == [r.requirements()[0].message]
        assert "without the sandbox" in event.payload["gaps"][0]

    def test_the_criteria_are_kept_as_they_were_at_submission(self):
        r = create_gate_request(learner=self.learner, gate=self.gate)
        self.gate.criteria = ["explains the mechanism", "a criterion added later"]
        self.gate.save()
        r.submit(by=self.learner)
        assert r.checklist == [
            {"criterion": "explains the mechanism", "ticked": True},
            {"criterion": "a criterion added later", "ticked": False},
        ]
        self.gate.criteria = ["something else entirely"]
        self.gate.save()
        r.refresh_from_db()
        assert [c["criterion"] for c in r.checklist] == ["explains the mechanism", "a criterion added later"]
        assert r.content_version == self.roadmap.content_version


class NotificationTests(GateWorld, TestCase):
    def test_submitting_notifies_the_teams_reviewers_and_leads_but_not_the_learner(self):
        create_gate_request(learner=self.learner, gate=self.gate, submit=True)
        notified = set(Notification.objects.filter(kind="gate_submitted").values_list("user__username", flat=True))
        assert notified == {"rita", "leo"}

    def test_a_reviewer_requesting_their_own_gate_is_not_notified_of_it(self):
        create_gate_request(learner=self.reviewer, gate=self.gate, submit=True)
        notified = set(Notification.objects.filter(kind="gate_submitted").values_list("user__username", flat=True))
        assert notified == {"leo"}

    def test_a_decision_notifies_the_learner(self):
        r = create_gate_request(learner=self.learner, gate=self.gate, passing_evidence=True, submit=True)
        r.request_changes(by=self.reviewer, comment="More please.")
        r.submit(by=self.learner)
        r.approve(by=self.lead, marks=["met", "met"])
        titles = list(
            Notification.objects.filter(user=self.learner, kind="gate_decided")
            .order_by("pk")
            .values_list("title", "url")
        )
        assert titles == [
            (f"Rita Reviewer requested changes to your {self.layer.label} request", r.get_absolute_url()),
            (f"{self.layer.label} approved by Leo Lead", r.get_absolute_url()),
        ]

    def test_a_reviewer_added_to_a_second_team_is_notified_once(self):
        from tests.factories import create_team

        create_team(members={self.learner: "member", self.reviewer: REVIEWER})
        create_gate_request(learner=self.learner, gate=self.gate, submit=True)
        assert Notification.objects.filter(user=self.reviewer, kind="gate_submitted").count() == 1
