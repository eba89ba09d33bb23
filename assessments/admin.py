from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from assessments.models import Activity, AuditEvent, GateRequest, PathFollow, SelfAssessment, TopicProgress
from assessments.regrading import regrade

# Notes and personal links are private to their author, so they are not in the admin either.


@admin.register(TopicProgress)
class TopicProgressAdmin(admin.ModelAdmin):
    list_display = ("user", "topic", "status", "confidence", "updated_at")
    list_filter = ("status", "topic__roadmap")
    search_fields = ("user__username", "topic__slug", "topic__title")
    raw_id_fields = ("user", "topic")


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    """Append-only: shown, never edited."""

    list_display = ("user", "verb", "topic", "layer", "path", "status", "confidence", "level", "created_at")
    list_filter = ("verb",)
    search_fields = ("user__username",)
    raw_id_fields = ("user", "topic", "layer", "path")

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(SelfAssessment)
class SelfAssessmentAdmin(admin.ModelAdmin):
    list_display = ("user", "layer", "level", "created_at")
    search_fields = ("user__username",)
    raw_id_fields = ("user", "layer")

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(PathFollow)
class PathFollowAdmin(admin.ModelAdmin):
    list_display = ("user", "path", "created_at")
    raw_id_fields = ("user", "path")


@admin.register(GateRequest)
class GateRequestAdmin(admin.ModelAdmin):
    """Read-only: requests change only through their transitions, which write the audit trail."""

    list_display = ("pk", "learner", "gate", "status", "submitted_at", "decided_at", "reviewer", "attested")
    list_filter = ("status", "gate__layer__roadmap")
    search_fields = ("learner__username", "gate__layer__slug")
    raw_id_fields = ("learner", "gate", "reviewer")
    actions = ["regrade_evidence"]

    @admin.display(boolean=True, description="attested")
    def attested(self, obj: GateRequest) -> bool:
        return obj.attested

    @admin.action(description="Regrade pinned evidence on the current grader")
    def regrade_evidence(self, request: HttpRequest, queryset: QuerySet[GateRequest]) -> None:
        """What `manage.py regrade` does, for the chosen requests (open and approved ones only)."""
        done = regrade(queryset, by=request.user)  # type: ignore[arg-type]
        messages.success(
            request,
            f"Regrading {done.requests} open or approved request(s): {len(done.started)} run(s) started "
            "on the current grader; gates whose evidence no longer passes are flagged when they finish.",
        )
        for refusal in done.refused:
            messages.warning(request, refusal)

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Append-only, in the database too: shown, never changed or deleted."""

    list_display = ("created_at", "request_id", "action", "actor", "from_status", "to_status")
    list_filter = ("action",)
    search_fields = ("actor__username",)

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False
