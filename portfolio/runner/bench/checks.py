"""Validation primitives the workload and results validators share, and the SLO both documents carry.

Standard library only (the web app and the runner both validate). Errors are dicts
``{"path": "prompt_tokens.max", "message": "..."}`` so the page can point at the field. A path is
dotted; list items are written ``concurrency[2]``. The validators are hand-written so the web app
needs no jsonschema package; tests check that they and the published JSON Schemas agree on field
names.
"""

from __future__ import annotations

import math
from typing import Any

Errors = list[dict[str, str]]

SLO_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Service-level objectives for goodput, in milliseconds; a request is good when it meets every one given.",
    "properties": {
        "ttft_ms": {"type": "number", "exclusiveMinimum": 0},
        "tpot_ms": {"type": "number", "exclusiveMinimum": 0},
        "e2e_ms": {"type": "number", "exclusiveMinimum": 0},
    },
    "additionalProperties": False,
}


def add_error(errors: Errors, path: str, message: str) -> None:
    errors.append({"path": path, "message": message})


def is_int(value: Any) -> bool:
    # bool is an int subclass in Python; a JSON true is not a token count.
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return (isinstance(value, int | float)) and not isinstance(value, bool) and math.isfinite(float(value))


def int_in(errors: Errors, path: str, value: Any, low: int, high: int) -> int | None:
    if not is_int(value):
        add_error(errors, path, f"must be an integer, got {type(value).__name__}")
        return None
    if value < low or value > high:
        add_error(errors, path, f"must be between {low} and {high}, got {value}")
        return None
    return int(value)


def slo(errors: Errors, path: str, value: Any) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        add_error(errors, path, "must be an object with ttft_ms, tpot_ms and/or e2e_ms")
        return {}
    out: dict[str, float] = {}
    for key, item in value.items():
        if key not in ("ttft_ms", "tpot_ms", "e2e_ms"):
            add_error(errors, f"{path}.{key}", "unknown SLO; use ttft_ms, tpot_ms or e2e_ms")
        elif not is_number(item) or float(item) <= 0:
            add_error(errors, f"{path}.{key}", "must be a positive number of milliseconds")
        else:
            out[key] = float(item)
    return out
