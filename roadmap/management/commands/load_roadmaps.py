from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from roadmap.content import ContentInvalid, load


class Command(BaseCommand):
    help = "Validate the roadmap content files and upsert them by slug (idempotent; removed entries are retired)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="Validate only; write nothing.")
        parser.add_argument(
            "--dir",
            type=Path,
            default=None,
            help="Content folder (default: fixtures/roadmaps).",
        )
        parser.add_argument(
            "--roadmap",
            action="append",
            default=[],
            help="Only this roadmap slug (repeatable).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        content_dir = options["dir"] or settings.CONTENT_DIR
        wanted = set(options["roadmap"])
        try:
            reports = load(
                content_dir,
                dry_run=options["check"],
                only=(lambda src: src.slug in wanted) if wanted else None,
            )
        except ContentInvalid as exc:
            for error in exc.errors:
                self.stderr.write(str(error))
            raise CommandError(f"{len(exc.errors)} content error(s); nothing was written.") from None
        if options["check"]:
            self.stdout.write(f"Content is valid: {', '.join(r.roadmap for r in reports)}.")
            return
        for report in reports:
            self.stdout.write(str(report))
