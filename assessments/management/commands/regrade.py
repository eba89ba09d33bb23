"""manage.py regrade: re-run the pinned evidence of open and approved gate requests on the grader
deployed now (settings.RUNNER_GRADERS) wherever it was graded by an older one."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from assessments.models import GateRequest
from assessments.regrading import regrade


class Command(BaseCommand):
    help = (
        "Re-run, on the current grader, the pinned evidence of open and approved gate requests that an "
        "older grader graded. Runs go through the runner queue; a gate whose evidence no longer passes is "
        "flagged, and its learner and reviewers notified, when its run ends. Safe to run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--request", type=int, action="append", default=[], help="only this request id")

    def handle(self, *args: Any, **options: Any) -> None:
        requests = GateRequest.objects.filter(pk__in=options["request"]) if options["request"] else None
        done = regrade(requests)
        for run in done.started:
            self.stdout.write(f"run #{run.pk}: version {run.version_id} on {run.grader} {run.grader_version}")
        for refusal in done.refused:
            self.stderr.write(refusal)
        self.stdout.write(f"{done.requests} open or approved request(s), {len(done.started)} run(s) started.")
