from __future__ import annotations

from django.urls import path

from portfolio import views

app_name = "portfolio"

urlpatterns = [
    path("artifacts/", views.artifact_list, name="artifact-list"),
    path("artifacts/new/", views.artifact_create, name="artifact-create"),
    path("artifacts/<int:pk>/", views.artifact_detail, name="artifact-detail"),
    path("artifacts/<int:pk>/versions/new/", views.version_create, name="version-create"),
    path("artifacts/<int:pk>/versions/<int:number>/download/", views.version_download, name="version-download"),
    path("artifacts/<int:pk>/versions/<int:number>/run/", views.version_run, name="version-run"),
    path("artifacts/<int:pk>/results/new/", views.results_create, name="results-create"),
    path("results/<int:pk>/", views.result_detail, name="result-detail"),
    path("results/schemas/<slug:name>/", views.schema_detail, name="schema-detail"),
    path("contracts/<slug:kind>/<str:filename>", views.contract_file, name="contract-file"),
    path("runs/<int:pk>/", views.run_detail, name="run-detail"),
    path("runs/<int:pk>/cancel/", views.run_cancel, name="run-cancel"),
    path("runs/<int:pk>/rerun/", views.run_rerun, name="run-rerun"),
]
