from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING, ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone

if TYPE_CHECKING:
    from django.db.models import QuerySet


class User(AbstractUser):
    """A person using Layerwise. Roles come from team memberships, not from flags here."""

    display_name = models.CharField(max_length=150, blank=True)

    objects: ClassVar[UserManager[User]] = UserManager()

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def name(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    def reviewable_teams(self) -> QuerySet[Team]:
        """Teams in which this user may decide gate requests."""
        return Team.objects.filter(
            memberships__user=self,
            memberships__role__in=Membership.REVIEWING_ROLES,
        ).distinct()

    def led_teams(self) -> QuerySet[Team]:
        return Team.objects.filter(memberships__user=self, memberships__role=Membership.Role.LEAD).distinct()

    def can_review(self, learner: User) -> bool:
        """A reviewer or lead of a team the learner belongs to; never the learner."""
        if learner.pk == self.pk:
            return False
        return Membership.objects.filter(
            team__memberships__user=learner,
            user=self,
            role__in=Membership.REVIEWING_ROLES,
        ).exists()


class TeamQuerySet(models.QuerySet["Team"]):
    def of(self, user: User) -> TeamQuerySet:
        """Teams the user belongs to, in any role."""
        return self.filter(memberships__user=user).distinct()


class Team(models.Model):
    class Visibility(models.TextChoices):
        PROGRESS = "progress", "Members see each other's progress"
        AGGREGATE = "aggregate", "Members see team aggregates only"

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    visibility = models.CharField(max_length=16, choices=Visibility.choices, default=Visibility.AGGREGATE)
    created_at = models.DateTimeField(default=timezone.now)

    objects = TeamQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def add_member(self, user: User, role: str = "member") -> Membership:
        membership, _ = Membership.objects.update_or_create(team=self, user=user, defaults={"role": role})
        return membership


class MembershipQuerySet(models.QuerySet["Membership"]):
    def reviewing(self) -> MembershipQuerySet:
        return self.filter(role__in=Membership.REVIEWING_ROLES)


class Membership(models.Model):
    class Role(models.TextChoices):
        MEMBER = "member", "Member"
        REVIEWER = "reviewer", "Reviewer"
        LEAD = "lead", "Lead"

    REVIEWING_ROLES = (Role.REVIEWER, Role.LEAD)

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    joined_at = models.DateTimeField(default=timezone.now)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["team", "user"]
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="one_membership_per_team")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"

    @property
    def is_reviewing(self) -> bool:
        return self.role in self.REVIEWING_ROLES


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def active(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True)

    def of(self, user: User) -> ApiTokenQuerySet:
        return self.filter(user=user)


class ApiToken(models.Model):
    """A bearer token for the API. Only its SHA-256 is stored; the plain text is shown once."""

    PREFIX = "lw_"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    digest = models.CharField(max_length=64, unique=True)
    hint = models.CharField(max_length=12, help_text="The first characters, to tell tokens apart.")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @classmethod
    def issue(cls, user: User, name: str) -> tuple[ApiToken, str]:
        """Create a token; returns the row and the plain text, which is never stored."""
        raw = cls.PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, digest=_digest(raw), hint=raw[:10])
        return token, raw

    @classmethod
    def authenticate(cls, raw: str) -> User | None:
        if not raw.startswith(cls.PREFIX):
            return None
        token = cls.objects.active().select_related("user").filter(digest=_digest(raw)).first()
        if token is None or not token.user.is_active:
            return None
        now = timezone.now()
        # Writing on every request would serialise API traffic on SQLite; a minute's precision is enough.
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            cls.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])


class NotificationQuerySet(models.QuerySet["Notification"]):
    def of(self, user: User) -> NotificationQuerySet:
        return self.filter(user=user)

    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    """Something a person should know about: shown in the app, and emailed when mail is configured."""

    class Kind(models.TextChoices):
        GATE_SUBMITTED = "gate_submitted", "Gate request submitted"
        GATE_DECIDED = "gate_decided", "Gate request decided"
        RUN_FINISHED = "run_finished", "Run finished"
        RUN_FAILED = "run_failed", "Run failed"
        TEAM_INVITE = "team_invite", "Invited to a team"
        TEAM_CHANGED = "team_changed", "Team membership changed"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=24, choices=Kind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True, help_text="Where the notification leads, a path on this site.")
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_user_unread")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.user}: {self.title}"

    @classmethod
    def notify(cls, user: User, kind: str, title: str, *, url: str = "", body: str = "") -> Notification:
        """Record a notification; its email (if mail is configured) goes out after the commit."""
        from django.conf import settings
        from django.db import transaction

        notification = cls.objects.create(user=user, kind=kind, title=title[:200], url=url, body=body)
        if getattr(settings, "EMAIL_CONFIGURED", False) and user.email:
            from accounts.tasks import email_notification

            transaction.on_commit(lambda: email_notification.delay(notification.pk))
        return notification

    def mark_read(self) -> None:
        if self.read_at is None:
            self.read_at = timezone.now()
            self.save(update_fields=["read_at"])
