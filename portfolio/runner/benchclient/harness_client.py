"""Harness script of the benchmark-client grader: ``RUNNER_PYTHON -I harness_client.py input.json output.json``.

One sandboxed step that holds both sides of every case, because a client and its server must
share a network namespace and the sandbox gives each step its own (loopback only):

* this process (trusted) reads input.json and deletes it, so no later process can learn the
  cases from it; makes itself undumpable (PR_SET_DUMPABLE 0: other processes of the sandbox
  user can no longer open its /proc files or memory) and ignores every catchable signal;
* per case it starts the reference server (server.py, bound beside this file) in a thread on
  127.0.0.1, measures loopback round trips, then runs the learner's client in a child process:
  ``python -I harness_client.py --child``, which first installs a second seccomp filter that
  refuses every way of signalling another process (kill, tkill, tgkill, rt_sigqueueinfo,
  rt_tgsigqueueinfo, pidfd_open, pidfd_send_signal, pidfd_getfd), then imports bench_client.py
  and calls run(base_url, workload);
* when the child returns, crashes or passes the case's wall clock, every other process of the
  sandbox is killed (the whole PID namespace, so a daemon the client started cannot outlive it),
  and only then is the server's record taken from memory into the case's output.

The record therefore never exists where the learner's code can read it, the server's process
cannot be signalled by it, and the server's code is a read-only bind.

Input: {"cases": [{"workload": {...}, "server": {...}}], "case_wall_s": float, "result_cap_bytes": int,
"submission": "submission"}. Output: {"status": "ok", "cases": [{"record", "rtt_s", "client"}], "guard": {...}}.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if __package__:
    from portfolio.runner.benchclient import server as reference
    from portfolio.runner.harness import common
else:
    sys.path.insert(0, str(HERE))
    import server as reference  # type: ignore[import-not-found,no-redef]

    sys.path.insert(0, str(HERE.parent / "harness"))
    import common  # type: ignore[import-not-found,no-redef]

    del sys.path[0], sys.modules["common"]

MODULE_NAME = "bench_client"
FUNCTION = "run"
DEFAULT_CASE_WALL_S = 20.0
DEFAULT_RESULT_CAP = 4 * 1024 * 1024
STDERR_TAIL = 4000
PR_SET_DUMPABLE = 4
SIGNAL_SYSCALLS = (
    "kill",
    "tkill",
    "tgkill",
    "rt_sigqueueinfo",
    "rt_tgsigqueueinfo",
    "pidfd_open",
    "pidfd_send_signal",
    "pidfd_getfd",
)


# ---------------------------------------------------------------------------------------------
# Guards
# ---------------------------------------------------------------------------------------------


def make_undumpable() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def ignore_signals() -> None:
    for sig in (
        signal.SIGTERM,
        signal.SIGINT,
        signal.SIGHUP,
        signal.SIGUSR1,
        signal.SIGUSR2,
        signal.SIGPIPE,
        signal.SIGALRM,
        signal.SIGQUIT,
        signal.SIGTSTP,
        signal.SIGTTIN,
        signal.SIGTTOU,
    ):
        signal.signal(sig, signal.SIG_IGN)


def deny_signalling() -> str | None:
    """A seccomp filter on this process and its children refusing every call that signals or
    grabs another process; None when installed, else why not."""
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError as exc:
        return f"libseccomp not loadable: {exc}"
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    ctx = lib.seccomp_init(0x7FFF0000)  # allow everything else
    if not ctx:
        return "seccomp_init failed"
    try:
        for syscall in SIGNAL_SYSCALLS:
            number = lib.seccomp_syscall_resolve_name(syscall.encode())
            if number < 0:
                continue
            if lib.seccomp_rule_add(ctx, 0x00050000 | errno.EPERM, number, 0) < 0:
                return f"seccomp_rule_add({syscall}) failed"
        rc = lib.seccomp_load(ctx)
        return None if rc == 0 else f"seccomp_load failed: {os.strerror(-rc)}"
    finally:
        lib.seccomp_release(ctx)


def in_own_pid_namespace() -> bool:
    """True inside the sandbox: bwrap's init is PID 1 and the only other processes are ours."""
    try:
        return Path("/proc/1/comm").read_text().strip() == "bwrap" and os.getpid() < 100
    except OSError:
        return False


def kill_strays(child: subprocess.Popen[bytes]) -> int:
    """Kill what the client left running: in the sandbox every process but PID 1 and this one
    (repeated until none is left, so a fork in between is caught); outside it (a developer's run)
    only the child's process group. Returns how many were killed."""
    killed = 0
    if not in_own_pid_namespace():
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        return 0
    me = os.getpid()
    for _ in range(50):
        others = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me)]
        if not others:
            break
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        time.sleep(0.01)
    return killed


# ---------------------------------------------------------------------------------------------
# The learner's side (the child)
# ---------------------------------------------------------------------------------------------


def child_main() -> int:
    result_fd = os.dup(1)
    os.dup2(2, 1)  # what the client prints goes to stderr, never into the result
    job = json.loads(sys.stdin.read())
    sys.stdin.close()
    guard = deny_signalling()

    def send(payload: dict[str, Any]) -> None:
        data = json.dumps(payload, allow_nan=False).encode()
        with os.fdopen(result_fd, "wb") as fh:
            fh.write(data)

    path = common.find_module(Path(job["submission"]), MODULE_NAME)
    if path is None:
        send({"status": "missing", "message": common.missing_module(MODULE_NAME), "guard": guard})
        return 0
    try:
        module = common.import_module(path, MODULE_NAME)
    except BaseException as exc:  # noqa: BLE001 - the learner's import can raise anything
        send({"status": "no_import", "message": common.describe_exception(exc), "guard": guard})
        return 0
    function = getattr(module, FUNCTION, None)
    if not callable(function):
        send({"status": "missing", "message": f"{MODULE_NAME}.py defines no function {FUNCTION}(base_url, workload)"})
        return 0
    started = time.perf_counter()
    try:
        value = function(job["base_url"], job["workload"])
    except BaseException as exc:  # noqa: BLE001
        send({"status": "error", "message": common.describe_exception(exc), "guard": guard})
        return 0
    wall = time.perf_counter() - started
    try:
        send({"status": "ok", "result": value, "wall_s": wall, "guard": guard})
    except (TypeError, ValueError) as exc:
        send({"status": "wrong_type", "message": f"run() returned something that is not JSON: {exc}"[:500]})
    return 0


# ---------------------------------------------------------------------------------------------
# The trusted side
# ---------------------------------------------------------------------------------------------


def _drain(stream: Any, cap: int, keep_tail: bool, out: dict[str, Any]) -> None:
    data = bytearray()
    total = 0
    while chunk := stream.read(65536):
        total += len(chunk)
        if keep_tail:
            data += chunk
            del data[:-STDERR_TAIL]
        elif len(data) < cap:
            data += chunk[: cap - len(data)]
    out["data"] = bytes(data)
    out["total"] = total


def run_case(item: dict[str, Any], submission: str, wall_s: float, cap: int) -> dict[str, Any]:
    server = reference.ReferenceServer(item["server"])
    server.start()
    try:
        rtt = reference.loopback_rtt_s(server.port)
        child = subprocess.Popen(
            [sys.executable, "-I", str(Path(__file__).resolve()), "--child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        result: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        readers = [
            threading.Thread(target=_drain, args=(child.stdout, cap, False, result), daemon=True),
            threading.Thread(target=_drain, args=(child.stderr, STDERR_TAIL, True, errors), daemon=True),
        ]
        for reader in readers:
            reader.start()
        started = time.perf_counter()
        assert child.stdin is not None
        try:
            child.stdin.write(
                json.dumps({"base_url": server.url, "workload": item["workload"], "submission": submission}).encode()
            )
            child.stdin.close()
        except OSError:
            pass
        timed_out = False
        try:
            child.wait(timeout=wall_s)
        except subprocess.TimeoutExpired:
            timed_out = True
        wall = time.perf_counter() - started
        strays = kill_strays(child)
        child.wait()
        for reader in readers:
            reader.join(5)
    finally:
        server.stop()
    client = _client_outcome(child.returncode, timed_out, wall_s, result, cap)
    client.update(
        wall_s=round(wall, 3), stray_processes=strays, output_tail=errors.get("data", b"").decode("utf-8", "replace")
    )
    return {"record": server.record(), "rtt_s": rtt, "client": client}


def _client_outcome(rc: int | None, timed_out: bool, wall_s: float, result: dict[str, Any], cap: int) -> dict[str, Any]:
    if timed_out:
        return {"status": "timeout", "message": f"the client ran past the case's wall clock of {wall_s:g} s"}
    if result.get("total", 0) > cap:
        return {"status": "too_large", "message": f"the client's result is larger than {cap} bytes"}
    raw = result.get("data", b"")
    if not raw:
        return {"status": "crash", "message": f"the client process ended (status {rc}) without a result"}
    try:
        data = json.loads(raw)
    except ValueError:
        return {"status": "crash", "message": "the client process wrote a result that is not JSON"}
    return data if isinstance(data, dict) else {"status": "crash", "message": "no result object"}


def main(argv: list[str]) -> int:
    if argv[1:2] == ["--child"]:
        return child_main()
    read = common.read_job(argv, required=("cases",))
    if read is None:
        return 2
    job, output = read
    try:
        Path(argv[1]).unlink()  # the cases leave the sandbox's files before any learner code runs
    except OSError:
        pass
    guard = {"undumpable": make_undumpable(), "in_pid_namespace": in_own_pid_namespace()}
    ignore_signals()
    emit = common.progress_writer()
    try:
        results = []
        for number, item in enumerate(job["cases"], start=1):
            emit({"stage": "bench_client", "case": number, "total": len(job["cases"])})
            results.append(
                run_case(
                    item,
                    str(job.get("submission", "submission")),
                    float(job.get("case_wall_s", DEFAULT_CASE_WALL_S)),
                    int(job.get("result_cap_bytes", DEFAULT_RESULT_CAP)),
                )
            )
        payload: dict[str, Any] = {"status": "ok", "cases": results, "guard": guard}
    except Exception as exc:  # noqa: BLE001 - report, the grader decides
        payload = {
            "status": "error",
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc()[-4000:],
        }
    _write_fresh(output, json.dumps(payload).encode())
    return 0 if payload["status"] == "ok" else 1


def _write_fresh(path: Path, data: bytes) -> None:
    """Replace whatever the client may have left at the output path (a file, a link, a FIFO)."""
    try:
        os.chmod(path.parent, 0o755)
    except OSError:
        pass
    try:
        if path.is_dir() and not path.is_symlink():
            import shutil

            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        pass
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
