"""bench_client.py that tries to reach the server and its record before measuring honestly:
read the cases and the server's memory, signal it, alter its code, forge the step's output."""

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


def run(base_url, workload):
    server = os.getppid()
    attempt("read input", lambda: open("input.json").read())
    attempt("read memory", lambda: open(f"/proc/{server}/mem", "rb").read(16))
    attempt("read environ", lambda: open(f"/proc/{server}/environ", "rb").read())
    attempt("list fds", lambda: os.listdir(f"/proc/{server}/fd"))
    attempt("kill server", lambda: os.kill(server, signal.SIGKILL))
    attempt("stop server", lambda: os.kill(server, signal.SIGSTOP))
    attempt("kill all", lambda: os.kill(-1, signal.SIGKILL))
    attempt("kill group", lambda: os.killpg(os.getpgid(server), signal.SIGKILL))
    attempt("pidfd", lambda: os.pidfd_open(server))
    attempt("alter server", lambda: open("/opt/layerwise/harness/server.py", "a").write("#"))
    attempt("forge output", lambda: open("output.json", "w").write('{"status": "ok", "cases": []}'))
    return honest.run(base_url, workload)
