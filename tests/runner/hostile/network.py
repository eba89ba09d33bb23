"""Tries to reach the network: the host's loopback (a port the test listens on), the internet, DNS."""

from __future__ import annotations

import json
import socket
import sys


def attempt(action):
    try:
        action()
    except OSError as exc:
        return f"error: {type(exc).__name__}: {exc}"
    return "connected"


def tcp(host, port):
    def go():
        with socket.create_connection((host, port), timeout=3):
            pass

    return go


host_port = int(sys.argv[1])
report = {
    "tcp_host_loopback": attempt(tcp("127.0.0.1", host_port)),
    "tcp_outside": attempt(tcp("1.1.1.1", 80)),
    "tcp_outside_by_name": attempt(tcp("pypi.org", 443)),
    "dns": attempt(lambda: socket.getaddrinfo("pypi.org", 443)),
    "interfaces": [name for _, name in socket.if_nameindex()],
}
print(json.dumps({"ok": True, **report}))
