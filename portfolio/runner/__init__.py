"""The runner host's code: no Django, no database credentials, no secret key (README.md)."""

from __future__ import annotations
