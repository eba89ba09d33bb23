"""Everything a learner owns, as one JSON document, and the deletion of their account."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import ApiToken, Membership, User
from assessments.models import (
    Activity,
    GateRequest,
    PathFollow,
    PersonalLink,
    SelfAssessment,
    TopicNote,
    TopicProgress,
)
from portfolio.models import Artifact, ResultUpload, Run

EXPORT_VERSION = 1


def _when(value: Any) -> str | None:
    return value.isoformat() if value else None


def export_user_data(user: User) -> dict[str, Any]:
    """Topics and layers are named by their stable slugs, so the export outlives content changes."""
    topic_fields = ("topic__roadmap__slug", "topic__slug", "topic__title", "topic__retired")

    def topic(row: dict[str, Any]) -> dict[str, Any]:
        return {
            "roadmap": row["topic__roadmap__slug"],
            "topic": row["topic__slug"],
            "topic_title": row["topic__title"],
            "topic_retired": row["topic__retired"],
        }

    return {
        "version": EXPORT_VERSION,
        "exported_at": timezone.now().isoformat(),
        "user": {
            "username": user.username,
            "display_name": user.display_name,
            "email": user.email,
            "date_joined": _when(user.date_joined),
        },
        "teams": [
            {"team": m.team.slug, "name": m.team.name, "role": m.role, "joined_at": _when(m.joined_at)}
            for m in Membership.objects.filter(user=user).select_related("team")
        ],
        "api_tokens": [
            {"name": t.name, "hint": t.hint, "created_at": _when(t.created_at), "revoked_at": _when(t.revoked_at)}
            for t in ApiToken.objects.of(user)
        ],
        "progress": [
            {
                **topic(row),
                "status": row["status"],
                "confidence": row["confidence"],
                "created_at": _when(row["created_at"]),
                "updated_at": _when(row["updated_at"]),
            }
            for row in TopicProgress.objects.of(user)
            .order_by("topic__roadmap__order", "topic__layer__number", "topic__order")
            .values(*topic_fields, "status", "confidence", "created_at", "updated_at")
        ],
        "activity": [
            {
                "verb": a.verb,
                "roadmap": a.subject.roadmap.slug if a.subject else None,
                "topic": a.topic.slug if a.topic else None,
                "layer": a.layer.slug if a.layer else None,
                "path": a.path.slug if a.path else None,
                "status": a.status or None,
                "confidence": a.confidence,
                "level": a.level,
                "created_at": _when(a.created_at),
            }
            for a in Activity.objects.of(user)
            .select_related("topic__roadmap", "layer__roadmap", "path__roadmap")
            .order_by("created_at", "pk")
        ],
        "self_assessments": [
            {
                "roadmap": row["layer__roadmap__slug"],
                "layer": row["layer__slug"],
                "level": row["level"],
                "justification": row["justification"],
                "created_at": _when(row["created_at"]),
            }
            for row in SelfAssessment.objects.of(user)
            .order_by("created_at", "pk")
            .values("layer__roadmap__slug", "layer__slug", "level", "justification", "created_at")
        ],
        "notes": [
            {**topic(row), "body": row["body"], "updated_at": _when(row["updated_at"])}
            for row in TopicNote.objects.of(user).order_by("pk").values(*topic_fields, "body", "updated_at")
        ],
        "links": [
            {**topic(row), "url": row["url"], "title": row["title"], "created_at": _when(row["created_at"])}
            for row in PersonalLink.objects.of(user).order_by("pk").values(*topic_fields, "url", "title", "created_at")
        ],
        # The files themselves are downloadable from each artifact's page; here is what identifies them.
        "artifacts": [
            {
                "title": artifact.title,
                "spec": f"{artifact.spec.roadmap.slug}/{artifact.spec.code}" if artifact.spec else None,
                "notes": artifact.notes,
                "created_at": _when(artifact.created_at),
                "versions": [
                    {
                        "number": v.number,
                        "kind": v.kind,
                        "filename": v.original_filename,
                        "url": v.url,
                        "size": v.size,
                        "sha256": v.sha256,
                        "notes": v.notes,
                        "created_at": _when(v.created_at),
                    }
                    for v in artifact.versions.all()
                ],
            }
            for artifact in Artifact.objects.of(user)
            .select_related("spec__roadmap")
            .prefetch_related("versions")
            .order_by("pk")
        ],
        "gate_requests": [
            {
                "roadmap": r.gate.layer.roadmap.slug,
                "layer": r.gate.layer.slug,
                "status": r.status,
                "explanation": r.explanation,
                "criteria": r.checklist,
                "evidence": r.evidence_snapshot(),
                "created_at": _when(r.created_at),
                "submitted_at": _when(r.submitted_at),
                "decided_at": _when(r.decided_at),
                "reopened_reason": r.reopened_reason,
                "reviews": [
                    {"decision": v.decision, "comment": v.comment, "marks": v.marks, "created_at": _when(v.created_at)}
                    for v in r.reviews.all()
                ],
            }
            for r in GateRequest.objects.of(user).select_related("gate__layer__roadmap").order_by("pk")
        ],
        "path_follows": [
            {"roadmap": row["path__roadmap__slug"], "path": row["path__slug"], "created_at": _when(row["created_at"])}
            for row in PathFollow.objects.of(user)
            .order_by("pk")
            .values("path__roadmap__slug", "path__slug", "created_at")
        ],
    }


@transaction.atomic
def delete_account(user: User) -> None:
    """Remove the user and, through their foreign keys, every row of theirs.

    Runs and results protect the artifact versions they point at (a version with runs is never
    deleted on its own), so when the owner goes they go first, after the gate requests that pin
    them. The audit events of those requests stay, without the learner's name (their actor
    becomes NULL): the trail is append-only. Uploaded files are stored by their hash and may be
    shared with another learner's identical upload, so they stay in storage.
    """
    GateRequest.objects.of(user).delete()
    ResultUpload.objects.of(user).delete()
    Run.objects.of(user).delete()
    user.delete()
