"""Tries to make namespaces of its own (a user namespace first, then mount and network ones, as a
container escape would) and looks into /usr/local."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET = 0x00020000, 0x10000000, 0x40000000
libc = ctypes.CDLL(None, use_errno=True)


def unshare(flags):
    if libc.unshare(flags) == 0:
        return "created"
    return f"error: {os.strerror(ctypes.get_errno())}"


def command(argv):
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except OSError as exc:
        return f"error: {type(exc).__name__}: {exc}"
    return "created" if done.returncode == 0 else f"error: exit {done.returncode}: {done.stderr.strip()[:200]}"


report = {
    "user_namespace": unshare(CLONE_NEWUSER),
    "user_mount_network": unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET),
    "unshare_command": command(["unshare", "-Urmn", "true"]),
    "usr_local": sorted(os.listdir("/usr/local")) if os.path.isdir("/usr/local") else "absent",
}
print(json.dumps({"ok": True, **report}))
