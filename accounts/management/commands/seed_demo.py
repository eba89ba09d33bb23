from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from accounts.models import Membership, Team, User

DEMO_USERS = [
    ("lena", "Lena (team lead)", Membership.Role.LEAD),
    ("ravi", "Ravi (reviewer)", Membership.Role.REVIEWER),
    ("ada", "Ada (learner)", Membership.Role.MEMBER),
    ("bo", "Bo (learner)", Membership.Role.MEMBER),
]


class Command(BaseCommand):
    help = (
        "Create the demo team 'demo' with a lead, a reviewer and two learners, set fresh random "
        "passwords and print them. For development sites only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Run even with DEBUG off (creates known accounts).",
        )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["allow_production"]:
            raise CommandError(
                "seed_demo creates accounts whose passwords it prints; it runs only with DEBUG=1 "
                "(or pass --allow-production if you really mean it)."
            )
        team, _ = Team.objects.get_or_create(
            slug="demo",
            defaults={
                "name": "Demo team",
                "description": "Created by seed_demo.",
                "visibility": Team.Visibility.PROGRESS,
            },
        )
        lines = []
        for username, display_name, role in DEMO_USERS:
            user, _ = User.objects.get_or_create(username=username, defaults={"display_name": display_name})
            password = secrets.token_urlsafe(9)
            user.set_password(password)
            # Demo accounts count as confirmed: their addresses are reserved names nobody reads.
            user.email, user.pending_email = f"{username}@demo.layerwise.localhost", ""
            user.email_verified_at = user.email_verified_at or timezone.now()
            user.save(update_fields=["password", "email", "pending_email", "email_verified_at"])
            team.add_member(user, role)
            lines.append(f"  {username:<6} {password:<14} {role}")
        self.stdout.write("Demo accounts (team 'demo'); passwords are new on every run:")
        self.stdout.write("  user   password       role")
        for line in lines:
            self.stdout.write(line)
        # By name, not by import: accounts must not depend on assessments (whose command this is).
        call_command("seed_demo_progress", stdout=self.stdout)
