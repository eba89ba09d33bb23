from __future__ import annotations

from django.urls import path

from roadmap import views

app_name = "roadmap"

urlpatterns = [
    path("", views.roadmap_list, name="roadmap-list"),
    path("roadmaps/<slug:slug>/", views.roadmap_detail, name="roadmap-detail"),
    path(
        "roadmaps/<slug:roadmap_slug>/layers/<slug:slug>/",
        views.layer_detail,
        name="layer-detail",
    ),
    path(
        "roadmaps/<slug:roadmap_slug>/topics/<slug:slug>/",
        views.topic_detail,
        name="topic-detail",
    ),
    path("roadmaps/<slug:roadmap_slug>/artifacts/", views.artifact_list, name="artifact-list"),
    path(
        "roadmaps/<slug:roadmap_slug>/artifacts/<str:code>/",
        views.artifact_detail,
        name="artifact-detail",
    ),
    path(
        "roadmaps/<slug:roadmap_slug>/artifacts/<str:code>/templates/<str:name>",
        views.artifact_template,
        name="artifact-template",
    ),
    path("roadmaps/<slug:roadmap_slug>/levels/", views.level_list, name="level-list"),
    path("roadmaps/<slug:roadmap_slug>/paths/", views.path_list, name="path-list"),
    path("roadmaps/<slug:roadmap_slug>/paths/<slug:slug>/", views.path_detail, name="path-detail"),
    path("roadmaps/<slug:roadmap_slug>/checklists/", views.checklist_list, name="checklist-list"),
    path("roadmaps/<slug:roadmap_slug>/resources/", views.resource_list, name="resource-list"),
]
