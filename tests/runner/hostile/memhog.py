"""Allocates memory until it cannot."""

from __future__ import annotations

chunks = []
while True:
    chunks.append(bytearray(64 * 1024 * 1024))
