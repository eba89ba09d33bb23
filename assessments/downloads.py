"""CSV downloads people open in spreadsheets."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence

from django.http import HttpResponse


def safe_cell(value: object) -> object:
    """Spreadsheets run a cell that starts with = + - @ as a formula; names and notes are typed by users."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_download(filename: str, rows: Iterable[Sequence[object]]) -> HttpResponse:
    """An attachment with one CSV line per row, every cell made safe to open."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    csv.writer(response).writerows([safe_cell(cell) for cell in row] for row in rows)
    return response
