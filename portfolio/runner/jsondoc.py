"""Reading JSON documents that come from outside, one way everywhere.

The web's results forms and files, the API's request bodies, the credential verifier and the
uploaded workload files all read JSON through `loads`, and a document that arrived already parsed
(a model verb's argument) goes through `check`. Standard library only, like archive.py: the web and
the runner share it.

A document is refused (DocumentRefused, naming the field and the path inside it) when it holds
  - NaN, Infinity or a number too large for a double (1e400): JSON has no such numbers, and the
    databases' JSON columns refuse them;
  - an integer outside +-2**53 (MAX_INTEGER): beyond it doubles, JavaScript and most JSON readers
    lose digits, and thousands of digits cost seconds to convert;
  - nesting deeper than MAX_DEPTH levels, a string longer than MAX_STRING characters, more than
    MAX_ITEMS members in one array or object, or more than the caller's byte limit in all;
  - a NUL character or a lone surrogate in a string or key (PostgreSQL's jsonb and UTF-8 refuse them).
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 32
MAX_INTEGER = 2**53
MAX_STRING = 100_000
MAX_ITEMS = 100_000
MAX_BYTES = 5 * 1024 * 1024
# More digits than any integer within MAX_INTEGER: refused before Python converts them.
_MAX_DIGITS = len(str(MAX_INTEGER))


class DocumentRefused(ValueError):
    """`field` is what the person filled in ("document", "credential", "body"); `path` the place
    inside it ("metrics.ttft_ms", "results[3]"), empty for the whole; `reason` says what to fix."""

    def __init__(self, field: str, path: str, reason: str) -> None:
        self.field = field
        self.path = path
        self.reason = reason
        super().__init__(f"{self.where}: {reason}")

    @property
    def where(self) -> str:
        if not self.path:
            return self.field
        return f"{self.field}{self.path}" if self.path.startswith("[") else f"{self.field}.{self.path}"


class _Refused(Exception):
    """Raised from inside json's hooks, which do not know the path."""


def _refuse_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a number JSON allows; send finite numbers only")


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_DIGITS or abs(value := int(text)) > MAX_INTEGER:
        raise _Refused(f"an integer of {len(text.lstrip('-'))} digits is outside -2**53..2**53 (+-{MAX_INTEGER})")
    return value


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"{text[:40]} is too large for a number (the largest is about 1.8e308)")
    return value


def loads(text: str | bytes, *, field: str = "document", max_bytes: int = MAX_BYTES) -> Any:
    """Parse and check one document; DocumentRefused names the field (and line and column when the
    text itself is wrong)."""
    if len(text) > max_bytes:
        raise DocumentRefused(field, "", f"is larger than the limit of {max_bytes} bytes")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise DocumentRefused(field, "", "is not UTF-8 text; send a JSON document") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_int=_integer, parse_float=_float)
    except _Refused as exc:
        raise DocumentRefused(field, "", str(exc)) from None
    except RecursionError:
        raise DocumentRefused(field, "", f"is nested more than {MAX_DEPTH} levels deep") from None
    except json.JSONDecodeError as exc:
        raise DocumentRefused(
            field, "", f"is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    except ValueError as exc:  # int() past sys.get_int_max_str_digits, and the like
        raise DocumentRefused(field, "", f"is not a JSON document we can read ({exc})") from None
    check(value, field=field)
    return value


def check(value: Any, *, field: str = "document") -> None:
    """Walk a parsed document (without recursion) and refuse what `loads` would refuse."""
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, bool) or item is None:
            continue
        if isinstance(item, int):
            if abs(item) > MAX_INTEGER:
                raise DocumentRefused(field, path, f"is an integer outside -2**53..2**53 (+-{MAX_INTEGER})")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise DocumentRefused(
                    field,
                    path,
                    f"is {'NaN' if math.isnan(item) else 'Infinity'}, not a finite number; send finite numbers only",
                )
        elif isinstance(item, str):
            _check_text(item, field, path)
        elif isinstance(item, dict | list | tuple):
            if depth > MAX_DEPTH:
                raise DocumentRefused(field, path, f"is nested more than {MAX_DEPTH} levels deep")
            if len(item) > MAX_ITEMS:
                raise DocumentRefused(field, path, f"has {len(item)} members; the limit is {MAX_ITEMS}")
            if isinstance(item, dict):
                for key, member in item.items():
                    if not isinstance(key, str):
                        raise DocumentRefused(field, path, "has a key that is not text")
                    child = f"{path}.{key}" if path else key
                    _check_text(key, field, child, what="key")
                    stack.append((member, child, depth + 1))
            else:
                stack.extend((member, f"{path}[{i}]", depth + 1) for i, member in enumerate(item))


def _check_text(text: str, field: str, path: str, *, what: str = "text") -> None:
    if len(text) > MAX_STRING:
        raise DocumentRefused(field, path, f"is {len(text)} characters long; the limit is {MAX_STRING}")
    if "\x00" in text:
        raise DocumentRefused(field, path, f"holds a NUL character (\\u0000), which no {what} may hold")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise DocumentRefused(
            field, path, f"holds a lone surrogate (\\ud800-\\udfff), which no {what} may hold"
        ) from None
