from __future__ import annotations

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Notification
from tests.factories import create_notification, create_user

LIST = reverse("accounts:notification-list")


class BellTests(TestCase):
    def setUp(self):
        self.ada = create_user()
        self.client.force_login(self.ada)

    def test_the_bell_shows_the_unread_count(self):
        for i in range(3):
            create_notification(user=self.ada, title=f"Run #{i} passed")
        create_notification(user=create_user())  # someone else's
        Notification.objects.of(self.ada).first().mark_read()

        response = self.client.get(reverse("roadmap:roadmap-list"))

        self.assertContains(response, 'aria-label="Notifications, 2 unread"')
        self.assertContains(response, '<span class="badge-count">2</span>', html=True)

    def test_no_badge_without_unread_notifications(self):
        response = self.client.get(reverse("roadmap:roadmap-list"))

        self.assertContains(response, 'id="nav-bell"')
        self.assertNotContains(response, "badge-count")

    def test_the_bell_costs_one_query_whatever_the_count(self):
        def page_queries() -> list[str]:
            with CaptureQueriesContext(connection) as ctx:
                self.client.get(reverse("roadmap:roadmap-list"))
            return [q["sql"] for q in ctx.captured_queries]

        create_notification(user=self.ada)
        few = page_queries()
        for _ in range(40):
            create_notification(user=self.ada)
        many = page_queries()

        assert len(few) == len(many)
        assert sum('"accounts_notification"' in sql for sql in many) == 1

    def test_anonymous_visitors_have_no_bell(self):
        self.client.logout()

        self.assertNotContains(self.client.get(reverse("roadmap:roadmap-list")), "nav-bell")


class NotificationPageTests(TestCase):
    def setUp(self):
        self.ada = create_user()
        self.client.force_login(self.ada)
        self.old = create_notification(user=self.ada, title="Older", url="/me/")
        self.new = create_notification(user=self.ada, title="Newer", url="https://evil.example/")

    def test_the_list_shows_mine_newest_first(self):
        create_notification(user=create_user(), title="Not mine")

        response = self.client.get(LIST)

        assert list(response.context["page"].object_list) == [self.new, self.old]
        self.assertNotContains(response, "Not mine")

    def test_the_unread_filter(self):
        self.old.mark_read()

        response = self.client.get(LIST + "?unread=1")

        assert list(response.context["page"].object_list) == [self.new]

    def test_mark_read(self):
        response = self.client.post(reverse("accounts:notification-read", args=[self.old.pk]))

        self.assertRedirects(response, LIST, fetch_redirect_response=False)
        self.old.refresh_from_db()
        assert self.old.read_at is not None
        assert list(Notification.objects.of(self.ada).unread()) == [self.new]

    def test_mark_read_with_htmx_answers_the_list_and_the_bell(self):
        response = self.client.post(
            reverse("accounts:notification-read", args=[self.old.pk]), headers={"HX-Request": "true"}
        )

        self.assertContains(response, 'id="notifications"')
        self.assertContains(response, 'hx-swap-oob="true"')
        self.assertContains(response, 'aria-label="Notifications, 1 unread"')
        self.assertNotContains(response, "<html")

    def test_mark_all_read(self):
        self.client.post(reverse("accounts:notification-read-all"))

        assert not Notification.objects.of(self.ada).unread().exists()

    def test_mark_all_read_leaves_other_peoples_alone(self):
        theirs = create_notification(user=create_user())

        self.client.post(reverse("accounts:notification-read-all"))

        theirs.refresh_from_db()
        assert theirs.read_at is None

    def test_opening_marks_read_and_follows_a_local_url_only(self):
        response = self.client.get(reverse("accounts:notification-open", args=[self.old.pk]))
        self.assertRedirects(response, "/me/", fetch_redirect_response=False)

        response = self.client.get(reverse("accounts:notification-open", args=[self.new.pk]))
        self.assertRedirects(response, LIST, fetch_redirect_response=False)

        assert not Notification.objects.of(self.ada).unread().exists()

    def test_other_peoples_notifications_are_a_404(self):
        theirs = create_notification(user=create_user())

        assert self.client.get(reverse("accounts:notification-open", args=[theirs.pk])).status_code == 404
        assert self.client.post(reverse("accounts:notification-read", args=[theirs.pk])).status_code == 404
        theirs.refresh_from_db()
        assert theirs.read_at is None

    def test_pages_of_thirty(self):
        for _ in range(35):
            create_notification(user=self.ada)

        first = self.client.get(LIST)
        second = self.client.get(LIST + "?page=2")

        assert len(first.context["page"].object_list) == 30
        assert len(second.context["page"].object_list) == 7
