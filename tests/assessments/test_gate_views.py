from __future__ import annotations

import csv
import io

from django.test import TestCase
from django.urls import reverse

from accounts.models import Notification
from assessments.models import AuditEvent, GateRequest
from tests.assessments.gates import GateWorld
from tests.factories import create_gate_request, create_run, create_version, finish_run
from tests.portfolio.helpers import make_zip


class WholeLoopTests(GateWorld, TestCase):
    """Learner submits, reviewer requests changes, learner resubmits, lead approves, the
    verified level rises, the audit shows every step: all through the pages' own forms."""

    def test_the_whole_loop_in_the_browser_views(self):
        c = self.client
        c.force_login(self.learner)
        layer_page = c.get(self.layer.get_absolute_url())
        self.assertContains(layer_page, "Request sign-off")

        response = c.post(reverse("gates:request-open", args=["llm", "kv-cache"]))
        r = GateRequest.objects.get(learner=self.learner)
        self.assertRedirects(response, r.get_absolute_url())
        page = c.get(r.get_absolute_url())
        self.assertContains(page, "no version pinned")
        self.assertContains(page, "Pin evidence from your artifacts")

        c.post(reverse("gates:evidence-add", args=[r.pk]), {"version": self.version.pk})
        c.post(reverse("gates:request-update", args=[r.pk]), {"explanation": "It matches **MHA**.", "ticks": ["0"]})
        page = c.get(r.get_absolute_url())
        self.assertContains(page, "passed on the runner (sandboxed)")
        c.post(reverse("gates:request-submit", args=[r.pk]))
        r.refresh_from_db()
        assert r.status == "submitted" and r.checklist[0]["ticked"] and not r.checklist[1]["ticked"]

        c.force_login(self.reviewer)
        inbox = c.get(reverse("gates:review-list"))
        self.assertContains(inbox, "Lena Learner")
        self.assertContains(inbox, "1 of 1 verified")
        # What the two numbers count, beside everything pinned (issue 14: "0 of 1 verified" with two pinned).
        self.assertContains(inbox, "required runnable artifact with a passing run; 1 item pinned in all")
        review = c.get(r.get_review_url())
        self.assertContains(review, self.version.sha256)
        self.assertContains(review, "runner-1")  # the run's environment
        self.assertContains(review, "<strong>MHA</strong>", html=False)
        c.post(reverse("gates:review-start", args=[r.pk]), {"next": "review"})
        c.post(
            reverse("gates:review-decide", args=[r.pk]),
            {"decision": "changes_requested", "mark_0": "met", "mark_1": "not_met", "comment": "Measure GQA too."},
        )
        r.refresh_from_db()
        assert r.status == "changes_requested"

        c.force_login(self.learner)
        page = c.get(r.get_absolute_url())
        self.assertContains(page, "Measure GQA too.")
        v2 = create_version(artifact=self.artifact, data=b"print('v2 with GQA')\n", filename="kv.py")
        finish_run(create_run(version=v2))
        c.post(reverse("gates:evidence-add", args=[r.pk]), {"version": v2.pk})
        c.post(reverse("gates:request-update", args=[r.pk]), {"explanation": "Now with GQA.", "ticks": ["0", "1"]})
        c.post(reverse("gates:request-submit", args=[r.pk]))
        r.refresh_from_db()
        assert r.status == "submitted"

        c.force_login(self.lead)
        review = c.get(r.get_review_url())
        self.assertContains(review, "Since the last decision")
        self.assertContains(review, "-print(&#x27;v1&#x27;)", html=False)
        self.assertContains(review, "+print(&#x27;v2 with GQA&#x27;)", html=False)
        response = c.post(
            reverse("gates:review-decide", args=[r.pk]),
            {"decision": "approve", "mark_0": "met", "mark_1": "met", "comment": "Good."},
        )
        self.assertRedirects(response, r.get_review_url())
        r.refresh_from_db()
        assert r.status == "approved"

        c.force_login(self.learner)
        board = c.get(reverse("assessments:dashboard") + "?roadmap=llm").context["board"]
        assert board.layers[0].verified_level == 1 and board.verified_level == 1
        assert [e.action for e in AuditEvent.objects.filter(request_id=r.pk)] == [
            "created",
            "submitted",
            "review_started",
            "changes_requested",
            "resubmitted",
            "review_started",
            "approved",
        ]
        kinds = set(Notification.objects.values_list("user__username", "kind"))
        assert {("rita", "gate_submitted"), ("leo", "gate_submitted"), ("lena", "gate_decided")} <= kinds

    def test_a_refused_decision_keeps_what_the_reviewer_typed(self):
        r = create_gate_request(learner=self.learner, gate=self.gate, submit=True)
        self.client.force_login(self.reviewer)
        response = self.client.post(
            reverse("gates:review-decide", args=[r.pk]),
            {"decision": "approve", "mark_0": "met", "mark_1": "not_met", "comment": "Almost there."},
        )
        assert response.status_code == 422
        self.assertContains(response, "Approve only when every criterion is marked met", status_code=422)
        self.assertContains(response, "Almost there.", status_code=422)
        assert GateRequest.objects.get(pk=r.pk).status == "submitted"

    def test_pinning_with_htmx_answers_with_the_evidence_fragment(self):
        r = GateRequest.open(self.learner, self.gate)
        self.client.force_login(self.learner)
        response = self.client.post(
            reverse("gates:evidence-add", args=[r.pk]), {"version": self.version.pk}, headers={"HX-Request": "true"}
        )
        content = response.content.decode()
        assert content.lstrip().startswith('<section class="card" id="request-evidence"')
        assert "<html" not in content and self.version.sha256 in content

    def test_a_submitted_request_refuses_changes_with_a_message(self):
        r = create_gate_request(learner=self.learner, gate=self.gate, submit=True)
        self.client.force_login(self.learner)
        response = self.client.post(
            reverse("gates:request-update", args=[r.pk]), {"explanation": "sneaky"}, follow=True
        )
        self.assertContains(response, "frozen")
        assert GateRequest.objects.get(pk=r.pk).explanation == "I built it and measured it."

    def test_submitting_without_an_explanation_says_so(self):
        r = GateRequest.open(self.learner, self.gate)
        self.client.force_login(self.learner)
        response = self.client.post(reverse("gates:request-submit", args=[r.pk]), follow=True)
        self.assertContains(response, "Write your explanation first")


class ZipDiffTests(GateWorld, TestCase):
    def test_the_review_page_lists_added_removed_and_changed_files_of_zips(self):
        old = create_version(
            artifact=self.artifact,
            data=make_zip({"kv.py": b"a = 1\n", "README.md": b"old\n", "weights.bin": b"\x00\x01"}),
            filename="kv.zip",
        )
        new = create_version(
            artifact=self.artifact,
            data=make_zip({"kv.py": b"a = 2\n", "NOTES.md": b"new\n", "weights.bin": b"\x00\x02"}),
            filename="kv.zip",
        )
        r = create_gate_request(learner=self.learner, gate=self.gate, versions=(old,), submit=True)
        r.request_changes(by=self.reviewer, comment="Again.")
        r.pin(new, by=self.learner)
        r.submit(by=self.learner)
        self.client.force_login(self.reviewer)

        changes = self.client.get(r.get_review_url()).context["changes"]

        (change,) = changes
        assert change.change == "changed" and (change.old_number, change.new_number) == (old.number, new.number)
        files = {f.path: f for f in change.diff.files}
        assert {p: f.change for p, f in files.items()} == {
            "NOTES.md": "added",
            "README.md": "removed",
            "kv.py": "changed",
            "weights.bin": "changed",
        }
        assert "-a = 1\n+a = 2\n" in files["kv.py"].diff
        assert files["weights.bin"].diff == "" and "by hash only" in files["weights.bin"].note


class HistoryExportTests(GateWorld, TestCase):
    def setUp(self):
        first = create_gate_request(learner=self.learner, gate=self.gate, versions=(self.version,), submit=True)
        first.withdraw(by=self.learner)
        self.request = create_gate_request(learner=self.learner, gate=self.gate, versions=(self.version,), submit=True)
        self.request.approve(by=self.reviewer, marks=["met", "met"])
        self.request.reopen(by=self.lead, reason="Re-check, please")
        self.first = first
        self.client.force_login(self.reviewer)

    def test_the_json_export_holds_every_event_of_the_gate_with_its_evidence(self):
        response = self.client.get(reverse("gates:history-json", args=[self.request.pk]))
        assert response["Content-Disposition"] == 'attachment; filename="gate-llm-kv-cache-lena.json"'
        data = response.json()
        assert (data["learner"], data["roadmap"], data["layer"]) == ("lena", "llm", "kv-cache")
        assert [(e["request"], e["action"], e["actor"]) for e in data["events"]] == [
            (self.first.pk, "created", "lena"),
            (self.first.pk, "submitted", "lena"),
            (self.first.pk, "withdrawn", "lena"),
            (self.request.pk, "created", "lena"),
            (self.request.pk, "submitted", "lena"),
            (self.request.pk, "review_started", "rita"),
            (self.request.pk, "approved", "rita"),
            (self.request.pk, "reopened", "leo"),
        ]
        approved = data["events"][6]
        assert approved["evidence"][0]["sha256"] == self.version.sha256
        assert (approved["from_status"], approved["to_status"]) == ("in_review", "approved")
        assert data["events"][7]["payload"] == {"reason": "Re-check, please"}

    def test_the_csv_export_has_a_row_per_event_with_the_hashes(self):
        response = self.client.get(reverse("gates:history-csv", args=[self.request.pk]))
        assert response["Content-Type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.content.decode())))
        assert [row["action"] for row in rows] == [
            "created",
            "submitted",
            "withdrawn",
            "created",
            "submitted",
            "review_started",
            "approved",
            "reopened",
        ]
        assert rows[6]["evidence_sha256"] == self.version.sha256 and rows[6]["actor"] == "rita"
        assert '"reason": "Re-check, please"' in rows[7]["detail"]

    def test_the_history_page_shows_every_step(self):
        response = self.client.get(reverse("gates:history-detail", args=[self.request.pk]))
        for text in ("Withdrew", "Started review", "Approved", "Reopened", "Re-check, please", self.version.sha256):
            self.assertContains(response, text)
