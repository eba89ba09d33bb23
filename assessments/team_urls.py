"""The team pages of assessments, mounted under /teams/ in the "teams" namespace (config/urls.py)."""

from __future__ import annotations

from django.urls import path

from assessments import team_views

urlpatterns = [
    path("<slug:slug>/matrix/", team_views.team_matrix, name="team-matrix"),
    path("<slug:slug>/matrix.csv", team_views.team_matrix_csv, name="team-matrix-csv"),
    path("<slug:slug>/weakest/", team_views.team_weakest, name="team-weakest"),
    path("<slug:slug>/inactive/", team_views.team_inactive, name="team-inactive"),
    path("<slug:slug>/people/<str:username>/", team_views.member_dashboard, name="member-dashboard"),
    path(
        "<slug:slug>/people/<str:username>/progress/<slug:roadmap_slug>/",
        team_views.member_progress,
        name="member-progress",
    ),
]
