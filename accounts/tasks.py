from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from accounts.models import Notification


@shared_task(name="accounts.email_notification")
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
