"""The web app's Celery app is wiring: the apps reach it as celery.current_app, never by import."""

from __future__ import annotations

import threading

from celery import current_app
from django.test import SimpleTestCase

from config.celery import app
from portfolio.runner import celery_app as runner_celery


class CurrentAppTests(SimpleTestCase):
    def test_every_thread_sends_with_the_configured_app(self):
        seen = [current_app._get_current_object()]
        thread = threading.Thread(target=lambda: seen.append(current_app._get_current_object()))
        thread.start()
        thread.join()
        assert seen == [app, app]
        assert app.conf.task_default_queue == "default"

    def test_making_the_runners_app_in_this_process_does_not_take_its_place(self):
        runner_app = runner_celery.create_app({})
        assert runner_app is not app
        assert current_app._get_current_object() is app
