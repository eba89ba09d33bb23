from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import ApiToken, User


class Command(BaseCommand):
    help = "Create an API token for a user and print it. It is shown this once; only its hash is stored."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="command line", help='What the token is for (default "command line").')

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}. Check the spelling, or create the user first.")
        if not user.is_active:
            raise CommandError(f"User {user.username!r} is inactive; a token for them would not work.")
        _, raw = ApiToken.issue(user, options["name"])
        self.stderr.write(f"Token {options['name']!r} for {user.username} (store it now; it is not shown again):")
        self.stdout.write(raw)
