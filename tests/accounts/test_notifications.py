from __future__ import annotations

from unittest import mock

from django.core import mail
from django.test import TestCase, override_settings

from accounts.models import Notification
from accounts.tasks import email_notification
from config.celery import app as celery_app
from tests.factories import create_user


class NotificationTests(TestCase):
    def test_notify_records_an_unread_notification(self):
        user = create_user()

        notification = Notification.notify(user, Notification.Kind.RUN_FINISHED, "Run #4 passed", url="/runs/4/")

        assert list(Notification.objects.of(user).unread()) == [notification]
        notification.mark_read()
        assert not Notification.objects.of(user).unread().exists()

    def test_without_mail_configured_nothing_is_emailed(self):
        user = create_user(email="ada@example.com")

        with self.captureOnCommitCallbacks(execute=True) as callbacks:
            Notification.notify(user, Notification.Kind.GATE_DECIDED, "Approved")

        assert callbacks == []
        assert mail.outbox == []

    @override_settings(EMAIL_CONFIGURED=True, SITE_URL="https://layerwise.example")
    def test_with_mail_configured_it_is_emailed_once_after_the_commit(self):
        user = create_user(email="ada@example.com")

        with self.captureOnCommitCallbacks() as callbacks:
            notification = Notification.notify(user, Notification.Kind.GATE_DECIDED, "Approved", url="/me/")
        assert len(callbacks) == 1
        email_notification(notification.pk)
        email_notification(notification.pk)

        assert len(mail.outbox) == 1
        assert mail.outbox[0].to == ["ada@example.com"]
        assert "https://layerwise.example/me/" in mail.outbox[0].body

    @override_settings(EMAIL_CONFIGURED=True)
    def test_the_email_is_sent_by_the_name_its_task_is_registered_and_routed_under(self):
        user = create_user(email="ada@example.com")

        with mock.patch("accounts.models.current_app") as app, self.captureOnCommitCallbacks(execute=True):
            notification = Notification.notify(user, Notification.Kind.GATE_DECIDED, "Approved")

        app.send_task.assert_called_once_with(email_notification.name, args=[notification.pk])
        celery_app.loader.import_default_modules()
        assert email_notification.name in celery_app.tasks
        assert celery_app.amqp.router.route({}, email_notification.name)["queue"].name == "default"

    def test_other_users_notifications_are_not_theirs(self):
        owner, other = create_user(), create_user()
        Notification.notify(owner, Notification.Kind.TEAM_INVITE, "Join us")

        assert not Notification.objects.of(other).exists()
