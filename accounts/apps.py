from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        # Registers the team rules ("teams.view", "teams.manage", ...) with `rules`.
        from accounts import rules  # noqa: F401
