"""What a learner records and how it is signed off.

- `progress`: topic progress, activity, self-assessments, notes and links, followed paths.
- `states`: the states of a gate request and the errors its transitions raise.
- `gates`: gate requests (the sign-off workflow) and what counts as verified; the request's
  evidence verbs live in `gate_evidence`, its regrading verbs in `gate_regrade`.
- `levels`: verified levels as pages draw them (roadmap-wide level, layers annotated).
- `records`: what a request leaves behind: pinned evidence, reviews, audit events.
- `credentials`: Open Badges 3.0 credentials for approved gates, and how a document is verified.
"""

from __future__ import annotations

from assessments.models.credentials import Check, Credential, Verdict
from assessments.models.gates import GateActions, GateRequest, GateRequestQuerySet, Verification
from assessments.models.levels import cumulative_level, with_verification
from assessments.models.progress import (
    CLOSED,
    CONFIDENCE_RANGE,
    KEEP,
    LEVEL_RANGE,
    Activity,
    PathFollow,
    PersonalLink,
    SelfAssessment,
    Status,
    TopicNote,
    TopicProgress,
    TopicState,
)
from assessments.models.records import AuditEvent, GateEvidence, Requirement, Review, best_runs
from assessments.models.states import (
    AWAITING_REVIEW,
    EDITABLE,
    MARKS,
    AuditImmutable,
    GateError,
    GateStatus,
    NotAllowed,
)

__all__ = [
    "AWAITING_REVIEW",
    "CLOSED",
    "CONFIDENCE_RANGE",
    "EDITABLE",
    "KEEP",
    "LEVEL_RANGE",
    "MARKS",
    "Activity",
    "AuditEvent",
    "AuditImmutable",
    "Check",
    "Credential",
    "GateActions",
    "GateError",
    "GateEvidence",
    "GateRequest",
    "GateRequestQuerySet",
    "GateStatus",
    "NotAllowed",
    "PathFollow",
    "PersonalLink",
    "Requirement",
    "Review",
    "SelfAssessment",
    "Status",
    "TopicNote",
    "TopicProgress",
    "TopicState",
    "Verdict",
    "Verification",
    "best_runs",
    "cumulative_level",
    "with_verification",
]
