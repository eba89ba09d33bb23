from __future__ import annotations

import json
import math
from typing import Any

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from portfolio import reports, results

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
def num(value: Any, digits: int = 3) -> str:
    """A measured number for a table: about `digits` significant figures, thousands separated;
    "—" for a missing value."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return "—"
    magnitude = abs(value)
    decimals = (
        0 if magnitude >= 10 ** (digits - 1) or magnitude == 0 else digits - 1 - math.floor(math.log10(magnitude))
    )
    return f"{value:,.{min(decimals, 6)}f}"


@register.filter
def percent(value: Any, decimals: int = 1) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.{decimals}f} %"


@register.filter
def signed_percent(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value * 100:+.1f} %"


@register.filter
def size(value: Any) -> str:
    """Bytes as GiB or MiB."""
    return reports.gib(value)


@register.filter
def exact(value: Any) -> str:
    """The value as stored, for a data attribute the tests read back (repr keeps every digit)."""
    return "" if value is None else repr(value)


@register.filter
def code_spans(value: str) -> SafeString:
    """Plain text with `backticked` names shown as code; everything else escaped."""
    parts = str(value).split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: show the text as it is
        return escape(value)
    return mark_safe("".join(f"<code>{escape(p)}</code>" if i % 2 else escape(p) for i, p in enumerate(parts)))  # noqa: S308
