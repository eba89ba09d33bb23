"""Token-length distributions: the prompt and output lengths of a workload or an uploaded result.

Standard library only. A length is written as an integer, ``{"kind": "fixed", "value": n}`` or
``{"kind": "uniform", "min": a, "max": b}``; `normalise` turns any of them into the object form,
`bounds` gives the shortest and longest a distribution can produce, and `draw` samples one from
a seeded generator (the request plan and the memory estimate both read lengths through these).
"""

from __future__ import annotations

import random
from typing import Any

from .checks import Errors, add_error, int_in, is_int

MAX_TOKENS = 131072

SCHEMA: dict[str, Any] = {
    "description": "A token count: an integer, or a distribution drawn per request with the spec's seed.",
    "oneOf": [
        {"type": "integer", "minimum": 1, "maximum": MAX_TOKENS},
        {
            "type": "object",
            "properties": {
                "kind": {"const": "fixed"},
                "value": {"type": "integer", "minimum": 1, "maximum": MAX_TOKENS},
            },
            "required": ["kind", "value"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "description": "Integers drawn uniformly from min..max inclusive.",
            "properties": {
                "kind": {"const": "uniform"},
                "min": {"type": "integer", "minimum": 1, "maximum": MAX_TOKENS},
                "max": {"type": "integer", "minimum": 1, "maximum": MAX_TOKENS},
            },
            "required": ["kind", "min", "max"],
            "additionalProperties": False,
        },
    ],
}


def normalise(errors: Errors, path: str, value: Any) -> dict[str, Any] | None:
    """Normalise a token-count field to {"kind": "fixed", "value": n} or {"kind": "uniform", ...}."""
    if is_int(value):
        n = int_in(errors, path, value, 1, MAX_TOKENS)
        return None if n is None else {"kind": "fixed", "value": n}
    if not isinstance(value, dict):
        add_error(errors, path, "must be an integer or an object with a 'kind'")
        return None
    kind = value.get("kind")
    if kind == "fixed":
        extra = set(value) - {"kind", "value"}
        if extra:
            add_error(errors, f"{path}.{sorted(extra)[0]}", "unknown field for kind 'fixed'")
        if "value" not in value:
            add_error(errors, f"{path}.value", "is required for kind 'fixed'")
            return None
        n = int_in(errors, f"{path}.value", value["value"], 1, MAX_TOKENS)
        return None if n is None else {"kind": "fixed", "value": n}
    if kind == "uniform":
        extra = set(value) - {"kind", "min", "max"}
        if extra:
            add_error(errors, f"{path}.{sorted(extra)[0]}", "unknown field for kind 'uniform'")
        lo = hi = None
        for key in ("min", "max"):
            if key not in value:
                add_error(errors, f"{path}.{key}", "is required for kind 'uniform'")
        if "min" in value:
            lo = int_in(errors, f"{path}.min", value["min"], 1, MAX_TOKENS)
        if "max" in value:
            hi = int_in(errors, f"{path}.max", value["max"], 1, MAX_TOKENS)
        if lo is None or hi is None:
            return None
        if hi < lo:
            add_error(errors, f"{path}.max", f"must be >= min ({lo}), got {hi}")
            return None
        return {"kind": "uniform", "min": lo, "max": hi}
    add_error(errors, f"{path}.kind", f"must be 'fixed' or 'uniform', got {kind!r}")
    return None


def bounds(dist: dict[str, Any]) -> tuple[int, int]:
    """(smallest, largest) token count a normalised length distribution can produce."""
    if dist["kind"] == "fixed":
        return dist["value"], dist["value"]
    return dist["min"], dist["max"]


def draw(dist: dict[str, Any], rng: random.Random) -> int:
    if dist["kind"] == "fixed":
        return int(dist["value"])
    return rng.randint(dist["min"], dist["max"])
