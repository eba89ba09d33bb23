"""Load roadmap content from fixtures/roadmaps into the database.

Three steps, one module each. read.py turns every roadmap folder into plain data that remembers
the file and entry each piece came from. validate.py checks it all (fields, references, the
prerequisite DAG) and collects every problem with its file and entry; if there is any, nothing
is written. write.py then upserts each roadmap by its stable slugs inside one transaction: rows
whose values already match are left alone, so loading the same files twice writes nothing, and
rows the files no longer mention are retired rather than deleted, so learner data survives.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from django.db import transaction

from roadmap.content.errors import ContentError, ContentInvalid
from roadmap.content.read import RoadmapSource, read_sources
from roadmap.content.validate import validate
from roadmap.content.write import LoadReport, write_roadmap

__all__ = ["ContentError", "ContentInvalid", "LoadReport", "RoadmapSource", "load", "read_sources", "validate"]


def load(
    content_dir: Path,
    *,
    dry_run: bool = False,
    only: Callable[[RoadmapSource], bool] | None = None,
) -> list[LoadReport]:
    """Validate every roadmap under content_dir, then write them. Raises ContentInvalid."""
    sources, errors = read_sources(content_dir)
    errors += validate(sources)
    if errors:
        raise ContentInvalid(errors)
    if only is not None:
        sources = [s for s in sources if only(s)]
    if dry_run:
        return [LoadReport(s.slug) for s in sources]
    with transaction.atomic():
        return [write_roadmap(src) for src in sources]
