from __future__ import annotations

from django.contrib import admin

from assessments.models import Activity, PathFollow, SelfAssessment, TopicProgress

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
