"""bench_client.py that tries to reach the server and its record before measuring honestly:
read the cases and the server's memory, signal it, alter its code, forge the step's output."""

from __future__ import annotations

import os
import signal
import sys

import honest


def attempt(label, action):
    try:
        out = action()
        print(f"ATTEMPT {label}: succeeded {str(out)[:60]!r}", file=sys.stderr)
    except Exception as exc:
        print(f"ATTEMPT {label}: refused {type(exc).__name__}", file=sys.stderr)


def read(path, mode="r"):
    with open(path, mode) as fh:
        return fh.read(64)


def write(path, text, mode="w"):
    with open(path, mode) as fh:
        return fh.write(text)


def run(base_url, workload):
    server = os.getppid()
    attempt("read input", lambda: read("input.json"))
    attempt("read memory", lambda: read(f"/proc/{server}/mem", "rb"))
    attempt("read environ", lambda: read(f"/proc/{server}/environ", "rb"))
    attempt("list fds", lambda: os.listdir(f"/proc/{server}/fd"))
    attempt("kill server", lambda: os.kill(server, signal.SIGKILL))
    attempt("stop server", lambda: os.kill(server, signal.SIGSTOP))
    attempt("kill all", lambda: os.kill(-1, signal.SIGKILL))
    attempt("kill group", lambda: os.killpg(os.getpgid(server), signal.SIGKILL))
    attempt("pidfd", lambda: os.pidfd_open(server))
    attempt("alter server", lambda: write("/opt/layerwise/harness/server.py", "#", "a"))
    attempt("forge output", lambda: write("output.json", '{"status": "ok", "cases": []}'))
    return honest.run(base_url, workload)
