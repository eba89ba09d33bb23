from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import (
    EMAIL_INVITE_TASK,
    EMAIL_NOTIFICATION_TASK,
    EMAIL_RESET_TASK,
    EMAIL_VERIFICATION_TASK,
    Membership,
    Notification,
    TeamInvite,
    User,
)


@shared_task(name=EMAIL_NOTIFICATION_TASK)
def email_notification(notification_id: int) -> None:
    """Email one notification. Safe to run twice: a notification is emailed at most once."""
    notification = (
        Notification.objects.select_related("user").filter(pk=notification_id, emailed_at__isnull=True).first()
    )
    if notification is None or not notification.user.email:
        return
    claimed = Notification.objects.filter(pk=notification.pk, emailed_at__isnull=True).update(emailed_at=timezone.now())
    if not claimed:
        return
    link = f"{settings.SITE_URL.rstrip('/')}{notification.url}" if notification.url else settings.SITE_URL
    body = f"{notification.body}\n\n{link}\n" if notification.body else f"{link}\n"
    send_mail(f"[Layerwise] {notification.title}", body, None, [notification.user.email])


@shared_task(name=EMAIL_INVITE_TASK)
def email_invite(invite_id: int, link: str) -> None:
    """Email a team invitation's link to its address, at most once.

    Unlike the other tasks this one carries more than an id: only the token's hash is stored, so
    the link exists nowhere but in the request that created it, and the task has to be handed it.
    """
    invite = TeamInvite.objects.pending().select_related("team", "created_by").filter(pk=invite_id).first()
    if invite is None or not invite.email:
        return
    claimed = TeamInvite.objects.filter(pk=invite.pk, emailed_at__isnull=True).update(emailed_at=timezone.now())
    if not claimed:
        return
    role = Membership.Role(invite.role).label.lower()
    body = (
        f"{invite.created_by or 'A lead'} invites you to join {invite.team.name} on Layerwise as {role}.\n\n"
        f"{link}\n\n"
        f"The link works once and expires on {invite.expires_at:%d %b %Y}. Log in or sign up when asked, "
        "and you join the team.\n"
    )
    send_mail(f"[Layerwise] Join {invite.team.name}", body, None, [invite.email])


@shared_task(name=EMAIL_RESET_TASK)
def send_reset_mail(subject: str, body: str, to_email: str) -> None:
    """A password reset link, mailed apart from the request (accounts.forms.ResetForm), so that the
    page takes as long whether or not the address has an account. Like email_invite it carries
    the link: the reset token exists nowhere else."""
    send_mail(subject, body, None, [to_email])


@shared_task(name=EMAIL_VERIFICATION_TASK)
def email_verification(user_id: int, address: str) -> None:
    """Mail `address` a link confirming it for the account, or, when another account has confirmed
    it already, a notice to its owner instead (the person who typed it sees the same page either
    way). Nothing goes out once the address is no longer the one waiting for confirmation."""
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or user.address_to_confirm.lower() != address.lower():
        return
    site = settings.SITE_URL.rstrip("/")
    if User.objects.with_verified_email(address).exclude(pk=user.pk).exists():
        body = (
            "Someone asked to use this address for another Layerwise account. It already belongs to "
            "your account, so nothing changed and it stays yours.\n\n"
            f"If that was you, log in instead: {site}{reverse('accounts:login')}\n"
            f"Forgot your password? {site}{reverse('accounts:password-reset')}\n"
        )
        send_mail("[Layerwise] Your address was used to sign up again", body, None, [address])
        return
    link = site + reverse("accounts:email-confirm", args=[user.email_link_token(address)])
    body = (
        f"Confirm that {address} is the address of the Layerwise account {user.username}:\n\n"
        f"{link}\n\n"
        f"The link works once, for {User.EMAIL_LINK_DAYS} days, while you are logged in to that account. "
        "If you did not ask for it, ignore this mail: nothing changes.\n"
    )
    send_mail("[Layerwise] Confirm your email address", body, None, [address])
