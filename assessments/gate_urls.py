"""Gate requests (/gates/), the reviewer inbox (/reviews/) and public credentials (/credentials/)."""

from __future__ import annotations

from django.urls import path

from assessments import gate_views as views

app_name = "gates"

urlpatterns = [
    path("gates/", views.request_list, name="request-list"),
    path("gates/<slug:roadmap_slug>/<slug:layer_slug>/request/", views.request_open, name="request-open"),
    path("gates/requests/<int:pk>/", views.request_detail, name="request-detail"),
    path("gates/requests/<int:pk>/edit/", views.request_update, name="request-update"),
    path("gates/requests/<int:pk>/evidence/", views.evidence_add, name="evidence-add"),
    path("gates/requests/<int:pk>/evidence/<int:evidence_pk>/remove/", views.evidence_remove, name="evidence-remove"),
    path("gates/requests/<int:pk>/submit/", views.request_submit, name="request-submit"),
    path("gates/requests/<int:pk>/withdraw/", views.request_withdraw, name="request-withdraw"),
    path("gates/requests/<int:pk>/reopen/", views.request_reopen, name="request-reopen"),
    path("gates/requests/<int:pk>/history/", views.history_detail, name="history-detail"),
    path("gates/requests/<int:pk>/history.json", views.history_export, {"fmt": "json"}, name="history-json"),
    path("gates/requests/<int:pk>/history.csv", views.history_export, {"fmt": "csv"}, name="history-csv"),
    path("gates/requests/<int:pk>/credential/", views.credential_issue, name="credential-issue"),
    path("reviews/", views.review_list, name="review-list"),
    path("reviews/<int:pk>/", views.review_detail, name="review-detail"),
    path("reviews/<int:pk>/start/", views.review_start, name="review-start"),
    path("reviews/<int:pk>/decision/", views.review_decide, name="review-decide"),
    path("reviews/<int:pk>/keep/", views.review_keep, name="review-keep"),
    path("credentials/keys.json", views.credential_keys, name="credential-keys"),
    path("credentials/keys/<str:key_id>", views.credential_key, name="credential-key"),
    path("credentials/issuer", views.credential_issuer, name="credential-issuer"),
    path("credentials/status/revocation", views.credential_status, name="credential-status"),
    path("credentials/verify/", views.credential_verify, name="credential-verify"),
    path("credentials/<uuid:pk>/", views.credential_detail, name="credential-detail"),
    path("credentials/<uuid:pk>.json", views.credential_download, name="credential-download"),
]
