"""Tries to write everywhere but its own folder."""

from __future__ import annotations

import json
import sys


def write(path):
    try:
        with open(path, "w") as f:
            f.write("escaped")
    except OSError as exc:
        return f"error: {type(exc).__name__}"
    return "written"


targets = [
    "/usr/lib/escape.txt",
    "/etc/escape.txt",
    "/escape.txt",
    f"{sys.argv[1]}/escape.txt",
    "submission/escape.txt",
    "/opt/layerwise/harness/escape.txt",
    "/tmp/escape.txt",
    "own.txt",
    *sys.argv[2:],
]
print(json.dumps({"ok": True, "writes": {path: write(path) for path in targets}}))
