from __future__ import annotations

from django.apps import AppConfig


class AssessmentsConfig(AppConfig):
    name = "assessments"

    def ready(self) -> None:
        from assessments import rules  # noqa: F401 - registers the gate rules
