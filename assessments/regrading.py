"""Regrading: when a grader's deployed version changes, the pinned evidence of open and approved
gate requests is run again on it through the normal run pipeline, and a gate whose evidence no
longer passes is flagged until a reviewer decides (reopen, or keep the approval by attestation).

A workflow across two apps (portfolio's runs, this app's requests), so a pair of plain functions
over the models' verbs: `regrade` starts the runs (`manage.py regrade`, the staff admin action);
`run_ended` is named in settings.RUN_ENDED_HANDLERS, so Run.ended calls it when any run ends,
inside the transaction that ended it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from accounts.models import User
from assessments.models import GateRequest, GateRequestQuerySet
from portfolio.models import Run, RunRefused


@dataclass
class Regraded:
    """What one regrade did: runs started, refusals (a spec without a grader now), requests seen."""

    started: list[Run] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    requests: int = 0


def regrade(requests: GateRequestQuerySet | None = None, *, by: User | None = None) -> Regraded:
    """Re-run the stale pinned evidence of `requests` (every open and approved one by default)."""
    done = Regraded()
    chosen = GateRequest.objects.all() if requests is None else requests
    for gate_request in chosen.regradable().select_related("gate__layer", "learner").order_by("pk"):
        done.requests += 1
        try:
            done.started += gate_request.regrade(by=by)
        except RunRefused as exc:
            done.refused.append(f"request #{gate_request.pk}: {exc.message}")
    return done


def run_ended(run: Run) -> None:
    """Each frozen request pinning this run's version takes the run as its regraded evidence, when
    the run came from another grader (name or version) than the one its evidence was graded by."""
    pinned = GateRequest.objects.regradable().filter(evidence__version_id=run.version_id).distinct()
    for gate_request in pinned.select_related("gate__layer", "learner"):
        evidence = gate_request.evidence.select_related("run").filter(version_id=run.version_id).first()
        if evidence is None or evidence.run_id == run.pk:
            continue
        if evidence.run is not None and (evidence.run.grader, evidence.run.grader_version) == (
            run.grader,
            run.grader_version,
        ):
            continue  # a rerun on the same grader: the request keeps what was pinned
        gate_request.record_regrade(run)
