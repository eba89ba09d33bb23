from __future__ import annotations

from django.urls import path

from assessments import views

app_name = "assessments"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("progress/<slug:roadmap_slug>/", views.progress_detail, name="progress-detail"),
    path("progress/<slug:roadmap_slug>/<slug:slug>/", views.progress_update, name="progress-update"),
    path(
        "self-assessment/<slug:roadmap_slug>/<slug:layer_slug>/",
        views.assessment_detail,
        name="assessment-detail",
    ),
    path("notes/", views.note_list, name="note-list"),
    path("topics/<slug:roadmap_slug>/<slug:slug>/note/", views.note_update, name="note-update"),
    path("topics/<slug:roadmap_slug>/<slug:slug>/links/", views.link_create, name="link-create"),
    path("links/<int:pk>/delete/", views.link_delete, name="link-delete"),
    path("paths/<slug:roadmap_slug>/<slug:slug>/follow/", views.path_follow, name="path-follow"),
    path("export/", views.data_export, name="data-export"),
    path("delete/", views.account_delete, name="account-delete"),
]
