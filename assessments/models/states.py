"""The states a gate request moves through, and the errors its transitions raise."""

from __future__ import annotations

from typing import Any

from django.db import models


class GateError(Exception):
    """A change the request's state does not allow; `message` says why and what to do instead,
    `field` names what to fix (the API reports it)."""

    def __init__(self, message: str, *, field: str = "status") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotAllowed(GateError):
    """This person may not do that to this request (their own gate, or not their team's learner)."""


class AuditImmutable(Exception):
    pass


class GateStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    REOPENED = "reopened", "Reopened"
    WITHDRAWN = "withdrawn", "Withdrawn"


# The states each action starts from. The transitions of GateRequest check these, and
# GateRequest.actions_for reads the same ones to say what a page may offer.
# Evidence, ticks and explanation change (and the request is submitted) only in these; a submitted
# request is what gets reviewed.
EDITABLE = (GateStatus.DRAFT, GateStatus.CHANGES_REQUESTED, GateStatus.REOPENED)
AWAITING_REVIEW = (GateStatus.SUBMITTED, GateStatus.IN_REVIEW)  # decided from these
REVIEW_STARTS = (GateStatus.SUBMITTED,)
WITHDRAWABLE = (*EDITABLE, *AWAITING_REVIEW)
SIGNED_OFF = (GateStatus.APPROVED,)  # reopened, or shared as a credential, from this
MARKS = {"met": "Met", "not_met": "Not met"}

# A regrade's flag lasts until the next decision on the request (or its withdrawal).
UNFLAGGED: dict[str, Any] = {"evidence_failing": [], "evidence_failing_since": None}
