from __future__ import annotations

import json
from typing import Any

from django import template

from portfolio import results
from portfolio.models import Artifact

register = template.Library()

STATUS_PILL = {
    "queued": "pill-info",
    "running": "pill-info",
    "succeeded": "pill-ok",
    "failed": "pill-bad",
    "timed_out": "pill-warn",
    "error": "pill-warn",
    "cancelled": "",
    "lost": "pill-warn",
    "passed": "pill-ok",
    "ok": "pill-ok",
    "mismatch": "pill-bad",
    "unverifiable": "pill-warn",
}


@register.filter
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


@register.filter
def status_pill(status: str) -> str:
    """The pill class for a run status, test status or comparison status."""
    return STATUS_PILL.get(str(status), "")


@register.filter
def plain(value: Any) -> str:
    """A JSON value in one line: strings as they are, the rest as compact JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:.6g}"
    return json.dumps(value, ensure_ascii=False, default=str)


@register.filter
def results_schema(spec: Any) -> str:
    """The name of the results schema an ArtifactSpec's uploads follow."""
    return results.schema_name_for(spec)


@register.filter
def artifacts_of(spec: Any, user: Any) -> Any:
    """The user's own artifacts for a spec (for the catalogue's spec page)."""
    return Artifact.objects.of(user).filter(spec=spec)[:5]
