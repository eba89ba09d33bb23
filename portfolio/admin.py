from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from portfolio.models import Artifact, ArtifactVersion, ResultUpload, Run, RunAttempt


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class VersionInline(ReadOnlyInline):
    model = ArtifactVersion
    fields = ["number", "kind", "original_filename", "url", "size", "sha256", "created_at"]


@admin.register(Artifact)
class ArtifactAdmin(admin.ModelAdmin):
    list_display = ["title", "owner", "spec", "updated_at"]
    list_select_related = ["owner", "spec"]
    search_fields = ["title", "owner__username"]
    raw_id_fields = ["owner"]
    filter_horizontal = ["topics"]
    inlines = [VersionInline]


@admin.register(ArtifactVersion)
class ArtifactVersionAdmin(admin.ModelAdmin):
    """Versions are immutable: visible here, never edited."""

    list_display = ["artifact", "number", "kind", "size", "sha256", "created_at"]
    list_select_related = ["artifact"]
    search_fields = ["sha256", "artifact__title"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class AttemptInline(ReadOnlyInline):
    model = RunAttempt
    fields = ["number", "status", "worker", "started_at", "heartbeat_at", "finished_at", "outcome", "message"]


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    """Runs change only through their transitions (tasks, pages, API); the admin shows them."""

    list_display = ["pk", "version", "grader", "status", "verdict", "sandboxed", "created_at"]
    list_filter = ["status", "grader", "sandboxed"]
    list_select_related = ["version__artifact"]
    inlines = [AttemptInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ResultUpload)
class ResultUploadAdmin(admin.ModelAdmin):
    list_display = ["artifact", "schema", "version", "created_at"]
    list_select_related = ["artifact", "version"]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
