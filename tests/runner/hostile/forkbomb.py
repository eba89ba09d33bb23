"""Forks children that hold their process slot until the process limit stops it."""

from __future__ import annotations

import os
import sys
import time

children = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(600)
            os._exit(0)
        children += 1
except OSError as exc:
    print(f"fork failed after {children} children: {exc}", file=sys.stderr)
    raise SystemExit(3) from None
