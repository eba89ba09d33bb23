from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from celery import current_app
from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.core import signing
from django.db import IntegrityError, models, transaction
from django.db.models import Case, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

if TYPE_CHECKING:
    from django.db.models import QuerySet

# The emails of accounts/tasks.py, sent by task name after the commit: the tasks import these
# models and the models never import the tasks.
EMAIL_NOTIFICATION_TASK = "accounts.email_notification"
EMAIL_INVITE_TASK = "accounts.email_invite"
EMAIL_RESET_TASK = "accounts.email_password_reset"
EMAIL_VERIFICATION_TASK = "accounts.email_verification"


class EmailLinkError(Exception):
    """A confirmation link that cannot be used; the message says why and what to do."""


class UserManager(DjangoUserManager):  # type: ignore[type-arg]
    def with_verified_email(self, email: str) -> QuerySet[User]:
        """Active accounts whose confirmed address is `email`: the only ones mail-addressed things reach."""
        email = email.strip()
        if not email:
            return self.none()
        return self.filter(email__iexact=email, email_verified_at__isnull=False, is_active=True)


class User(AbstractUser):
    """A person using Layerwise. Roles come from team memberships, not from flags here."""

    # Email verification. `email` is the address in use (for resets and notices); it counts as
    # confirmed only with `email_verified_at`. A new address waits in `pending_email` until its
    # link is followed, and only then replaces `email`. Invites reach confirmed addresses only.
    display_name = models.CharField(max_length=150, blank=True)
    email_verified_at = models.DateTimeField(null=True, blank=True)
    pending_email = models.EmailField(blank=True, help_text="A new address waiting for its confirmation link.")

    EMAIL_LINK_DAYS = 3
    _EMAIL_SALT = "accounts.email-verification"

    objects: ClassVar[UserManager] = UserManager()

    class Meta:
        ordering = ["username"]
        constraints = [
            # A confirmed address belongs to one account (confirm_email checks first; this holds under races).
            models.UniqueConstraint(
                Lower("email"),
                condition=Q(email_verified_at__isnull=False) & ~Q(email=""),
                name="user_confirmed_email_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def name(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A new password (changed, reset, set by staff or `manage.py changepassword`) ends every API
        # token: a token taken along with the old password must not outlive it. set_password keeps
        # the raw password in _password until the save that stores it.
        new_password = self._password is not None and self.pk is not None
        super().save(*args, **kwargs)
        if new_password:
            ApiToken.objects.of(self).active().update(revoked_at=timezone.now())

    @property
    def email_verified(self) -> bool:
        return bool(self.email and self.email_verified_at)

    @property
    def address_to_confirm(self) -> str:
        """The address a confirmation link would be for: the pending one, else an unconfirmed current one."""
        return self.pending_email or ("" if self.email_verified else self.email)

    def request_email(self, address: str) -> bool:
        """Ask to use `address`: it waits, unconfirmed, while a link goes to it after the commit.

        Retyping the address in use cancels a pending change. Returns whether a mail is on its way.
        What the mail says (a link, or a notice that the address is taken) is decided by the task, so
        the answer and its timing are the same whether or not another account owns the address.
        """
        address = address.strip()
        pending = "" if address.lower() == self.email.lower() else address
        if pending.lower() == self.pending_email.lower():
            return False  # nothing new; "Send the link again" resends
        self.pending_email = pending
        self.save(update_fields=["pending_email"])
        return bool(pending) and self.send_email_link()

    def send_email_link(self) -> bool:
        address = self.address_to_confirm
        if not address:
            return False
        user_id = self.pk
        transaction.on_commit(lambda: current_app.send_task(EMAIL_VERIFICATION_TASK, args=[user_id, address]))
        return True

    def _email_state(self) -> str:
        # Changes whenever a link is used or the address changes, which makes every older link stale.
        state = f"{self.email}|{self.pending_email}|{self.email_verified_at}"
        return hashlib.sha256(state.encode()).hexdigest()[:16]

    def email_link_token(self, address: str) -> str:
        """A signed, expiring token for confirming `address` on this account, good until it is used
        or the account's addresses change."""
        value = {"u": self.pk, "e": address.lower(), "s": self._email_state()}
        return signing.TimestampSigner(salt=self._EMAIL_SALT).sign_object(value)

    def confirm_email(self, token: str) -> str:
        """Make the address of `token` this account's confirmed one; returns it, or raises EmailLinkError."""
        value = self.check_email_token(token)
        with transaction.atomic():
            me = User.objects.select_for_update().get(pk=self.pk)
            if me._email_state() != value["s"]:
                raise EmailLinkError(_LINK_STALE)
            address = me.address_to_confirm
            if User.objects.with_verified_email(address).exclude(pk=me.pk).exists():
                raise EmailLinkError(_LINK_TAKEN)
            me.email, me.pending_email, me.email_verified_at = address, "", timezone.now()
            try:
                with transaction.atomic():
                    me.save(update_fields=["email", "pending_email", "email_verified_at"])
            except IntegrityError:
                raise EmailLinkError(_LINK_TAKEN) from None
        self.email, self.pending_email, self.email_verified_at = me.email, me.pending_email, me.email_verified_at
        return address

    def check_email_token(self, token: str) -> dict[str, Any]:
        """The token's content if it may confirm an address of this account now; else EmailLinkError."""
        signer = signing.TimestampSigner(salt=self._EMAIL_SALT)
        try:
            value = signer.unsign_object(token, max_age=timedelta(days=self.EMAIL_LINK_DAYS))
        except signing.SignatureExpired:
            raise EmailLinkError(
                f"This link has expired: links work for {self.EMAIL_LINK_DAYS} days. Send a new one from your profile."
            ) from None
        except (signing.BadSignature, ValueError, TypeError):
            raise EmailLinkError("This link is not valid. Check that it was copied whole.") from None
        if not isinstance(value, dict) or not {"u", "e", "s"} <= value.keys():
            raise EmailLinkError("This link is not valid. Check that it was copied whole.")
        if value["u"] != self.pk:
            raise EmailLinkError(
                "This link is for another account. Log out, then log in to the account that asked for it."
            )
        if value["s"] != self._email_state() or value["e"] != self.address_to_confirm.lower():
            raise EmailLinkError(_LINK_STALE)
        return value

    def led_teams(self) -> QuerySet[Team]:
        return Team.objects.filter(memberships__user=self, memberships__role=Membership.Role.LEAD).distinct()

    def teams_only_led_by_me(self) -> QuerySet[Team]:
        """Teams with other members where this user is the only lead: they would be left without one."""
        other_leads = Membership.objects.filter(team=OuterRef("pk"), role=Membership.Role.LEAD).exclude(user=self)
        others = Membership.objects.filter(team=OuterRef("pk")).exclude(user=self)
        return self.led_teams().filter(~models.Exists(other_leads), models.Exists(others))


_LINK_TAKEN = "Another account has confirmed this address in the meantime, so it stays unused."
_LINK_STALE = (
    "This link has been used already, or the address changed since it was sent. "
    "Your profile shows the address in use; send a new link from there if you need one."
)


class TeamQuerySet(models.QuerySet["Team"]):
    def of(self, user: User) -> TeamQuerySet:
        """Teams the user belongs to, in any role. Each carries the user's role (`viewer_role`), so the
        permission checks of a request need no further query; other people's teams are not in it."""
        if not user.is_authenticated:
            return self.none()
        role = Membership.objects.filter(team=OuterRef("pk"), user=user.pk).values("role")[:1]
        return self.filter(memberships__user=user).annotate(
            viewer_role=Subquery(role), viewer_pk=Value(user.pk, output_field=models.BigIntegerField())
        )


class TeamError(Exception):
    """A team change that the rules refuse (the last lead, a duplicate membership); the message says why."""


class Team(models.Model):
    class Visibility(models.TextChoices):
        PROGRESS = "progress", "Members see each other's progress"
        AGGREGATE = "aggregate", "Members see team aggregates only"

    # Paths under /teams/ that a team slug must not take.
    RESERVED_SLUGS = frozenset({"new", "invites"})
    # A member with no activity for this many days is listed as inactive (the page can ask for another span).
    QUIET_DAYS = 14

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

    def get_absolute_url(self) -> str:
        return reverse("teams:team-detail", args=[self.slug])

    @classmethod
    def create_with_lead(cls, lead: User, *, name: str, description: str = "", visibility: str = "") -> Team:
        """A new team with a slug of its own, its creator as lead."""
        base = slugify(name)[:100] or "team"
        for n in range(1, 50):
            slug = base if n == 1 else f"{base}-{n}"
            if slug in cls.RESERVED_SLUGS or cls.objects.filter(slug=slug).exists():
                continue
            try:
                with transaction.atomic():
                    team = cls.objects.create(
                        name=name,
                        slug=slug,
                        description=description,
                        visibility=visibility or cls.Visibility.AGGREGATE,
                    )
                    team.add_member(lead, Membership.Role.LEAD)
                return team
            except IntegrityError:  # taken between the check and the insert
                continue
        raise TeamError(f"Could not find a free address for a team named {name!r}; choose another name.")

    def add_member(self, user: User, role: str = "member") -> Membership:
        membership, _ = Membership.objects.update_or_create(team=self, user=user, defaults={"role": role})
        return membership

    @property
    def viewer_reviews(self) -> bool:
        """Whether the user the team was looked up for (`of(user)`) reviews its members; for templates."""
        return Membership.role_reviews(getattr(self, "viewer_role", None))

    @property
    def viewer_leads(self) -> bool:
        """Whether the user the team was looked up for (`of(user)`) leads it; for templates."""
        return getattr(self, "viewer_role", None) == Membership.Role.LEAD

    def role_of(self, user: User) -> str | None:
        """The user's role in this team, or None. Read from the row each time (unless the team was
        looked up through `of(user)`), so a membership change takes effect on the next request."""
        if not user.is_authenticated:
            return None
        if getattr(self, "viewer_pk", None) == user.pk:
            return self.viewer_role  # type: ignore[attr-defined]
        return self.memberships.filter(user=user).values_list("role", flat=True).first()

    def _lock(self) -> None:
        """Serialise membership changes of this team, so two leads cannot demote each other to none."""
        list(Team.objects.select_for_update().filter(pk=self.pk).values_list("pk", flat=True))

    def _leads_besides(self, membership: Membership) -> int:
        return self.memberships.filter(role=Membership.Role.LEAD).exclude(pk=membership.pk).count()

    def change_role(self, membership: Membership, role: str, *, by: User) -> bool:
        """Give a member another role; the team always keeps a lead. Returns whether anything changed."""
        if role not in Membership.Role.values:
            raise TeamError(f"role must be one of {', '.join(Membership.Role.values)}, not {role!r}")
        with transaction.atomic():
            self._lock()
            current = Membership.objects.filter(pk=membership.pk, team=self).select_related("user").first()
            if current is None:
                raise TeamError("That person is no longer in the team.")
            if current.role == role:
                return False
            if current.role == Membership.Role.LEAD and not self._leads_besides(current):
                raise TeamError(f"{current.user} is the team's only lead. Make someone else lead first.")
            Membership.objects.filter(pk=current.pk).update(role=role)
            if current.user_id != by.pk:
                Notification.notify(
                    current.user,
                    Notification.Kind.TEAM_CHANGED,
                    f"You are now {Membership.Role(role).label.lower()} in {self.name}",
                    url=self.get_absolute_url(),
                    body=f"{by} changed your role in {self.name}.",
                )
        membership.role = role
        return True

    def remove(self, membership: Membership, *, by: User) -> None:
        """Take a member out of the team (or let them leave). Access ends with the row: at once."""
        with transaction.atomic():
            self._lock()
            current = Membership.objects.filter(pk=membership.pk, team=self).select_related("user").first()
            if current is None:
                return
            if current.role == Membership.Role.LEAD and not self._leads_besides(current):
                who = "You are" if current.user_id == by.pk else f"{current.user} is"
                raise TeamError(f"{who} the team's only lead. Make another member lead first.")
            current.delete()
            if current.user_id != by.pk:
                Notification.notify(
                    current.user,
                    Notification.Kind.TEAM_CHANGED,
                    f"You were removed from {self.name}",
                    url=reverse("teams:team-list"),
                    body=f"{by} removed you from {self.name}.",
                )


class MembershipQuerySet(models.QuerySet["Membership"]):
    # Who may review whom is written here and nowhere else: a reviewer or lead of a team reviews every
    # member of it. Deciding a gate request also excludes the learner themself (GateRequest.can_be_decided_by).

    def reviewing(self) -> MembershipQuerySet:
        """Memberships in a role that reviews the team's members: reviewer or lead."""
        return self.filter(role__in=Membership.REVIEWING_ROLES)

    def learners_reviewed_by(self, user: User) -> QuerySet[Membership, dict[str, int]]:
        """Ids (`user_id`) of the members of every team in which `user` is a reviewer or lead, the
        user included: whose gate requests, artifacts and runs they may read."""
        teams = Membership.objects.filter(user_id=user.pk).reviewing().values("team_id")
        return self.filter(team_id__in=teams).values("user_id")

    def reviewers_of(self, learner_id: int) -> QuerySet[Membership, dict[str, int]]:
        """Ids (`user_id`) of the reviewers and leads of every team the learner belongs to (the learner
        too, where they review one of them): who is asked to decide their gate requests. By id, so a
        gate request asks without loading its learner."""
        teams = Membership.objects.filter(user_id=learner_id).values("team_id")
        return self.reviewing().filter(team_id__in=teams).values("user_id")

    def leads_first(self) -> MembershipQuerySet:
        """Leads, then reviewers, then members, each by username; with their users."""
        rank = Case(
            When(role=Membership.Role.LEAD, then=Value(0)),
            When(role=Membership.Role.REVIEWER, then=Value(1)),
            default=Value(2),
            output_field=models.IntegerField(),
        )
        return self.select_related("user").order_by(rank, "user__username")


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

    @classmethod
    def role_reviews(cls, role: str | None) -> bool:
        """Whether a member in `role` reviews the team's members (see MembershipQuerySet.reviewing)."""
        return role in cls.REVIEWING_ROLES


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
        GATE_EVIDENCE_FAILING = "gate_evidence_failing", "Gate evidence no longer passes"
        GATE_REPLY = "gate_reply", "Reply on a gate request"
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
        notification = cls.objects.create(user=user, kind=kind, title=title[:200], url=url, body=body)
        if getattr(settings, "EMAIL_CONFIGURED", False) and user.email:
            transaction.on_commit(lambda: current_app.send_task(EMAIL_NOTIFICATION_TASK, args=[notification.pk]))
        return notification

    def mark_read(self) -> None:
        if self.read_at is None:
            self.read_at = timezone.now()
            self.save(update_fields=["read_at"])

    @classmethod
    def mark_all_read(cls, user: User) -> int:
        return cls.objects.of(user).unread().update(read_at=timezone.now())

    @property
    def is_unread(self) -> bool:
        return self.read_at is None


class TeamInviteQuerySet(models.QuerySet["TeamInvite"]):
    def of_team(self, team: Team) -> TeamInviteQuerySet:
        return self.filter(team=team)

    def pending(self) -> TeamInviteQuerySet:
        """Neither used, revoked, declined nor expired: still accepted."""
        return self.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, declined_at__isnull=True, expires_at__gt=timezone.now()
        )

    def closed(self) -> TeamInviteQuerySet:
        return self.exclude(pk__in=self.pending().values("pk"))

    def addressed_to(self, user: User) -> TeamInviteQuerySet:
        """Invites mailed to the user's confirmed address (and still that address): they can accept
        these from their teams page without the link."""
        if not (user.is_authenticated and user.email_verified):
            return self.none()
        return self.filter(invitee=user, email__iexact=user.email)


class TeamInvite(models.Model):
    """An invitation to join a team in a role, by link: only the link token's SHA-256 is stored, and the
    link is shown once, to the lead who made it. Single use; it expires, and a lead can revoke it.

    With an email that an account has confirmed, the invite is also addressed to that account: its
    owner is notified and can accept from their teams page without the link. The lead's answer is
    the same whether or not such an account exists, so the invite form never tells who owns an
    address.
    """

    PREFIX = "inv_"
    DAYS = 7

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invites")
    role = models.CharField(max_length=16, choices=Membership.Role.choices, default=Membership.Role.MEMBER)
    digest = models.CharField(max_length=64, unique=True)
    email = models.EmailField(blank=True, help_text="Where the link was sent, if it was.")
    invitee = models.ForeignKey(
        User, on_delete=models.CASCADE, null=True, blank=True, related_name="team_invites_received"
    )
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="team_invites_sent")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    emailed_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="team_invites_accepted"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    declined_at = models.DateTimeField(null=True, blank=True)

    objects = TeamInviteQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # One ending at most: used, revoked or declined.
            models.CheckConstraint(
                condition=~(
                    Q(accepted_at__isnull=False, revoked_at__isnull=False)
                    | Q(accepted_at__isnull=False, declined_at__isnull=False)
                    | Q(revoked_at__isnull=False, declined_at__isnull=False)
                ),
                name="invite_ends_one_way",
            ),
            models.CheckConstraint(condition=Q(role__in=["member", "reviewer", "lead"]), name="invite_role_valid"),
        ]

    def __str__(self) -> str:
        return f"Invite to {self.team} as {self.role}"

    @classmethod
    def issue(cls, team: Team, *, role: str, by: User, email: str = "") -> tuple[TeamInvite, str]:
        """Create an invite; returns the row and the link token, which is never stored."""
        if role not in Membership.Role.values:
            raise TeamError(f"role must be one of {', '.join(Membership.Role.values)}, not {role!r}")
        raw = cls.PREFIX + secrets.token_urlsafe(24)
        email = email.strip()
        invitee = User.objects.with_verified_email(email).first() if email else None
        now = timezone.now()
        invite = cls.objects.create(
            team=team,
            role=role,
            digest=_digest(raw),
            email=email,
            invitee=invitee,
            created_by=by,
            created_at=now,
            expires_at=now + timedelta(days=cls.DAYS),
        )
        # A member already in the team is not notified, but the lead hears nothing different.
        if invitee is not None and invitee.pk != by.pk and not team.memberships.filter(user=invitee).exists():
            Notification.notify(
                invitee,
                Notification.Kind.TEAM_INVITE,
                f"{by} invited you to {team.name}",
                url=reverse("teams:team-list"),
                body=f"Join {team.name} as {Membership.Role(role).label.lower()}: accept or decline on your teams page.",
            )
        elif email and invitee is None and getattr(settings, "EMAIL_CONFIGURED", False):
            link = f"{settings.SITE_URL.rstrip('/')}{invite.get_link(raw)}"
            transaction.on_commit(lambda: current_app.send_task(EMAIL_INVITE_TASK, args=[invite.pk, link]))
        return invite, raw

    @property
    def delivery(self) -> str:
        """What the lead is told about an invite with an email: "emailed" when this site sends mail,
        else "" (they pass the link on themselves). Never whether an account has the address."""
        if self.email and getattr(settings, "EMAIL_CONFIGURED", False):
            return "emailed"
        return ""

    @classmethod
    def find(cls, team_slug: str, raw: str) -> TeamInvite | None:
        """The invite of this team with this token, in whatever state; None for a wrong token or team."""
        if not raw.startswith(cls.PREFIX):
            return None
        return cls.objects.select_related("team").filter(team__slug=team_slug, digest=_digest(raw)).first()

    def get_link(self, raw: str) -> str:
        return reverse("teams:invite-accept", args=[self.team.slug, raw])

    @property
    def state(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.declined_at:
            return "declined"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"

    @property
    def is_pending(self) -> bool:
        return self.state == "pending"

    def accept(self, user: User) -> Membership:
        """Join the team in the invite's role. The claim is a conditional update, so an invite is used once."""
        if self.team.memberships.filter(user=user).exists():
            raise TeamError(f"You are already in {self.team.name}; this invitation is left for someone else.")
        now = timezone.now()
        with transaction.atomic():
            claimed = TeamInvite.objects.pending().filter(pk=self.pk).update(accepted_by=user, accepted_at=now)
            if not claimed:
                self.refresh_from_db()
                raise TeamError(self.closed_reason)
            try:
                with transaction.atomic():
                    membership = Membership.objects.create(team=self.team, user=user, role=self.role, joined_at=now)
            except IntegrityError:  # joined by another invite a moment ago; the claim above is undone too
                raise TeamError(f"You are already in {self.team.name}.") from None
        self.accepted_by, self.accepted_at = user, now
        return membership

    def revoke(self) -> bool:
        now = timezone.now()
        revoked = TeamInvite.objects.pending().filter(pk=self.pk).update(revoked_at=now)
        if revoked:
            self.revoked_at = now
        return bool(revoked)

    def decline(self) -> bool:
        now = timezone.now()
        declined = TeamInvite.objects.pending().filter(pk=self.pk).update(declined_at=now)
        if declined:
            self.declined_at = now
        return bool(declined)

    @property
    def closed_reason(self) -> str:
        return {
            "accepted": "This invitation has been used already. Ask a lead of the team for a new one.",
            "revoked": "This invitation was revoked. Ask a lead of the team for a new one.",
            "declined": "This invitation was declined. Ask a lead of the team for a new one.",
            "expired": f"This invitation expired on {self.expires_at:%d %b %Y}. Ask a lead of the team for a new one.",
            "pending": "",
        }[self.state]
