"""Terminal output: aligned tables, and colours only when stdout is a terminal (and NO_COLOR is unset)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

COLOURS = {"green": "32", "red": "31", "yellow": "33", "dim": "2", "bold": "1"}


def is_tty(stream: TextIO | None = None) -> bool:
    stream = stream or sys.stdout
    return hasattr(stream, "isatty") and stream.isatty()


def colour(text: str, name: str, stream: TextIO | None = None) -> str:
    if not is_tty(stream) or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return text
    return f"\033[{COLOURS[name]}m{text}\033[0m"


def status_colour(status: str) -> str:
    if status in ("passed", "pass", "succeeded", "approved", "done", "ok"):
        return "green"
    if status in ("queued", "running", "learning", "submitted", "in_review", "draft", "skipped"):
        return "yellow"
    return "red"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, colour_column: int | None = None) -> str:
    """Plain aligned columns; on a terminal the header is bold and `colour_column` is coloured by value."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, v in enumerate(row):
            widths[i] = max(widths[i], len(v))
    lines = [colour("  ".join(h.ljust(widths[i]) for i, h in enumerate(headers)).rstrip(), "bold")]
    for row in cells:
        parts = []
        for i, v in enumerate(row):
            padded = v.ljust(widths[i])
            parts.append(colour(padded, status_colour(v)) if i == colour_column else padded)
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return " ".join(str(value).split())


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
