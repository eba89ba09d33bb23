from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from accounts import views
from accounts.forms import ResetForm

app_name = "accounts"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password/change/",
        auth_views.PasswordChangeView.as_view(success_url=reverse_lazy("accounts:password-change-done")),
        name="password-change",
    ),
    path("password/change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password-change-done"),
    path(
        "password/reset/",
        auth_views.PasswordResetView.as_view(
            form_class=ResetForm,
            success_url=reverse_lazy("accounts:password-reset-done"),
            email_template_name="registration/password_reset_email.txt",
        ),
        name="password-reset",
    ),
    path("password/reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password-reset-done"),
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(success_url=reverse_lazy("accounts:password-reset-complete")),
        name="password-reset-confirm",
    ),
    path("password/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password-reset-complete"),
    path("profile/", views.profile, name="profile"),
    path("profile/edit/", views.profile_update, name="profile-update"),
    path("email/confirm/<str:token>/", views.email_confirm, name="email-confirm"),
    path("email/resend/", views.email_resend, name="email-resend"),
    path("email/cancel/", views.email_cancel, name="email-cancel"),
    path("tokens/", views.token_create, name="token-create"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="token-revoke"),
    path("notifications/", views.notification_list, name="notification-list"),
    path("notifications/read-all/", views.notification_read_all, name="notification-read-all"),
    path("notifications/<int:pk>/", views.notification_open, name="notification-open"),
    path("notifications/<int:pk>/read/", views.notification_read, name="notification-read"),
]

# Mounted under /teams/ in the "teams" namespace by config/urls.py, together with the team pages of
# assessments (matrix, drill-down). "new" and "invites" are reserved team slugs (Team.RESERVED_SLUGS).
team_urlpatterns = [
    path("", views.team_list, name="team-list"),
    path("new/", views.team_create, name="team-create"),
    path("invites/<int:pk>/accept/", views.invitation_accept, name="invitation-accept"),
    path("invites/<int:pk>/decline/", views.invitation_decline, name="invitation-decline"),
    path("<slug:slug>/", views.team_detail, name="team-detail"),
    path("<slug:slug>/settings/", views.team_settings, name="team-settings"),
    path("<slug:slug>/leave/", views.team_leave, name="team-leave"),
    path("<slug:slug>/members/<int:pk>/role/", views.member_role, name="member-role"),
    path("<slug:slug>/members/<int:pk>/remove/", views.member_remove, name="member-remove"),
    path("<slug:slug>/invites/", views.invite_list, name="invite-list"),
    path("<slug:slug>/invites/<int:pk>/revoke/", views.invite_revoke, name="invite-revoke"),
    path("<slug:slug>/join/<str:token>/", views.invite_accept, name="invite-accept"),
]
