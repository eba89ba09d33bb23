"""Verified levels drawn on pages: the roadmap-wide level from a learner's gates, and layers
annotated with the learner's approval. What counts as verified is GateRequestQuerySet.verified()."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db.models import Case, Exists, F, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce, NullIf

from accounts.models import User
from assessments.models.gates import GateRequest
from roadmap.models import Layer

if TYPE_CHECKING:
    pass

# --- gate requests, reviews, audit and credentials (issue 6) ---------------------------------
#
# A learner asks for a layer's gate to be signed off. The request pins its evidence (artifact
# versions by hash, their runs, results uploads), keeps the gate's criteria as they were at
# submission with the learner's ticks, and moves
#     draft -> submitted -> in review -> approved | changes requested (-> submitted again)
# or withdrawn; an approved request can be reopened with a reason (then resubmitted). Every
# transition is a conditional UPDATE and writes an AuditEvent in the same transaction. Who may
# decide is read from Membership on every call, so a reviewer who leaves a team loses access at
# once; nobody decides their own request, whatever their roles.


def cumulative_level(gates: Iterable[tuple[int | None, bool]]) -> int:
    """The roadmap-wide verified level from (gate's level, approved?) pairs: level L needs every
    gate of levels 1..L approved, and at least one gate among them (no level is free)."""
    by_level: dict[int, list[bool]] = {}
    for level, approved in gates:
        if level:
            by_level.setdefault(level, []).append(approved)
    reached, seen = 0, False
    for level in range(1, max(by_level, default=0) + 1):
        here = by_level.get(level, [])
        if not all(here):
            break
        seen = seen or bool(here)
        if seen:
            reached = level
    return reached


def with_verification(layers: QuerySet[Layer], user: User) -> QuerySet[Layer]:
    """Layers annotated with their gate's level and the user's approval of it, in the same query:
    `gate_level`, `verified_request`, `verified_at`, `verified_by` (None where not approved) and
    `verified_attested` (True where the approval rests on a reviewer's attestation)."""
    approved = GateRequest.objects.of(user).verified().filter(gate__layer_id=OuterRef("pk"))
    reviewer = Coalesce(NullIf(F("reviewer__display_name"), Value("")), F("reviewer__username"))
    return layers.annotate(
        gate_level=Case(When(gate__retired=False, then=F("gate__level__number")), default=None),
        verified_request=Subquery(approved.values("pk")[:1]),
        verified_at=Subquery(approved.values("decided_at")[:1]),
        verified_by=Subquery(approved.annotate(name=reviewer).values("name")[:1]),
        verified_attested=Exists(approved.attested()),
    )
