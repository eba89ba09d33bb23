"""Looks for the worker's secrets: repository files, a planted secret file, /etc/shadow, the
environment of this process and of every process it can see."""

from __future__ import annotations

import json
import os
import sys


def read(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        return f"error: {type(exc).__name__}"
    return "read: " + data.decode("utf-8", "replace")


def listing(path):
    try:
        return sorted(os.listdir(path))
    except OSError as exc:
        return f"error: {type(exc).__name__}"


repo = sys.argv[1]
paths = [f"{repo}/pyproject.toml", f"{repo}/config/settings.py", "/etc/shadow", *sys.argv[2:]]
proc_environ = {}
for pid in listing("/proc") if isinstance(listing("/proc"), list) else []:
    if pid.isdigit():
        proc_environ[pid] = read(f"/proc/{pid}/environ")
report = {
    "files": {path: read(path) for path in paths},
    "environ": dict(os.environ),
    "proc_environ": proc_environ,
    "listings": {path: listing(path) for path in ["/", repo, "/root", "/home", "/opt/layerwise"]},
    "uid": os.getuid(),
}
print(json.dumps({"ok": True, **report}))
