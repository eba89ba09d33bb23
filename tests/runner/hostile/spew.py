"""Prints forever."""

from __future__ import annotations

while True:
    print("spam " * 200)
