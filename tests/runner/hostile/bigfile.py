"""Writes a file larger than the file-size limit."""

from __future__ import annotations

with open("big.bin", "wb") as f:
    for _ in range(64):
        f.write(b"\0" * (1024 * 1024))
