"""Spins the CPU forever."""

from __future__ import annotations

n = 0
while True:
    n += 1
