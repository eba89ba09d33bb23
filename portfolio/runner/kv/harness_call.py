"""Harness script (runs learner code): ``RUNNER_PYTHON -I harness_call.py input.json output.json``.

Calls the learner's `kv_cache_bytes` / `max_concurrency` on each case's inputs and records what
came back. It is given the calls' arguments only, never an expected value, and it imports nothing
but the standard library and harness/common.py (the sandbox binds this file and common.py alone,
next to the submission).

Input (JSON object):
    submission         folder holding the submission (default "submission")
    cases              [{"name": str, "function": "kv_cache_bytes" | "max_concurrency",
                         "config": {...}, "seq_len": int, "dtype": str,
                         "batch_size": int (kv_cache_bytes), "kv_budget_bytes": int (max_concurrency)}]
    call_timeout_s     limit for one call (default 2)
    import_timeout_s   limit for importing the module (default 20)

Output (JSON object):
    status      "ok", or "no_module" (no calculator file found; "message" says what was looked for)
    module      the file imported, relative to the submission folder
    functions   {"kv_cache_bytes": bool, "max_concurrency": bool} (defined and callable)
    import      {"ok": bool, "message": str, "elapsed_s": float}
    results     {case name: {"status": ..., "value": int | None, "message": str,
                             "elapsed_s": float, "output_tail": str}}

A result's status is one of:
    ok          returned an int; "value" holds it
    wrong_type  returned something else (bool, float, str, None, ...): the rule is below
    too_large   returned an int of more than 256 bits
    error       raised (type and message, truncated, in "message"), including SystemExit
    timeout     did not return within call_timeout_s; the worker was killed and restarted
    crash       the worker process died during the call (os._exit, a signal, ...)
    missing     the module does not define the function (max_concurrency is optional: the grader
                leaves its cases out then)
    no_import   the module could not be imported, or importing it timed out

Return-value rule: an int is accepted, including int subclasses and integer scalars that
implement __index__ (numpy.int64); a bool is refused although Python counts it as an int (True is
not a byte count); a float is refused even when it is integral (1.0e9): byte counts are exact
integers, and a float result usually means true division where floor division belongs.

Isolation: the module runs in a worker process, which imports it once and then serves one call at a
time over a private pipe; stdin is /dev/null and stdout/stderr go to a pipe this process drains,
keeping only a short tail per case, so printing megabytes costs the learner time, not us memory.
A call that times out or kills its worker fails that case alone; the next case gets a fresh
worker. The config dict is decoded afresh for every call, so a function that mutates it cannot
affect another case.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__:  # imported by the grader
    from portfolio.runner.harness import common
else:  # run as the step's script: common.py is beside it (see harness/common.py)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "harness"))
    import common

    del sys.path[0], sys.modules["common"]  # a learner's own common.py stays importable

MODULE_NAME = "kv_calculator"
FUNCTIONS = ("kv_cache_bytes", "max_concurrency")
DEFAULT_CALL_TIMEOUT_S = 2.0
DEFAULT_IMPORT_TIMEOUT_S = 20.0
OUTPUT_TAIL_CHARS = 1000
MESSAGE_CHARS = common.MESSAGE_CHARS
MAX_VALUE_BITS = 256
MAX_REPLY_BYTES = 64 * 1024


def find_module(submission: Path) -> Path | None:
    return common.find_module(submission, MODULE_NAME)


# ----------------------------------------------------------------------------------------------
# The worker: runs inside the child process, next to the learner's code


def classify_value(value: Any) -> dict[str, Any]:
    """Apply the return-value rule of the module docstring."""
    kind = type(value).__name__
    if isinstance(value, bool) or kind in ("bool", "bool_"):
        return {"status": "wrong_type", "message": f"returned a bool ({value!r}); return an int"}
    if isinstance(value, float):
        shown = common.safe_text(lambda: f"{value:.6g}", 60)
        return {
            "status": "wrong_type",
            "message": f"returned a float ({shown}); return an int (use // or int(), not /)",
        }
    if isinstance(value, int):
        number = int.__index__(value)
    else:
        try:
            import operator

            number = operator.index(value)
        except BaseException:
            article = "None" if value is None else f"a {kind}"
            return {"status": "wrong_type", "message": f"returned {article}; return an int"}
    if number.bit_length() > MAX_VALUE_BITS:
        return {"status": "too_large", "message": f"returned an int of {number.bit_length()} bits"}
    return {"status": "ok", "value": number, "type": kind}


def _worker(module_path: str, request_fd: int, reply_fd: int) -> None:
    requests = os.fdopen(request_fd, "rb", buffering=0)
    replies = os.fdopen(reply_fd, "wb", buffering=0)

    def reply(data: dict[str, Any]) -> None:
        replies.write((json.dumps(data) + "\n").encode())

    started = time.perf_counter()
    try:
        module = common.import_module(Path(module_path), MODULE_NAME)
    except BaseException as exc:
        reply({"ready": False, "message": common.describe_exception(exc), "elapsed_s": time.perf_counter() - started})
        return
    functions = {name: callable(getattr(module, name, None)) for name in FUNCTIONS}
    reply({"ready": True, "functions": functions, "elapsed_s": time.perf_counter() - started})
    buffer = b""
    while True:
        while b"\n" not in buffer:
            chunk = requests.read(65536)
            if not chunk:
                return
            buffer += chunk
        line, buffer = buffer.split(b"\n", 1)
        request = json.loads(line)
        function = getattr(module, request["function"], None)
        begun = time.perf_counter()
        try:
            value = function(*request["args"])  # type: ignore[misc]
        except BaseException as exc:
            result = {"status": "error", "message": common.describe_exception(exc)}
        else:
            try:
                result = classify_value(value)
            except BaseException as exc:
                result = {
                    "status": "wrong_type",
                    "message": f"the returned value broke: {common.describe_exception(exc)}",
                }
        result["elapsed_s"] = time.perf_counter() - begun
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            pass
        reply(result)


def _worker_main(argv: list[str]) -> None:
    module_path, request_fd, reply_fd = argv[0], int(argv[1]), int(argv[2])
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # the learner must not read (or wait on) our requests through stdin
    _worker(module_path, request_fd, reply_fd)
    sys.stdout.flush()
    # Skip interpreter teardown: the learner's atexit hooks and finalizers are not ours to run.
    os._exit(0)


# ----------------------------------------------------------------------------------------------
# The parent: starts workers, enforces the limits, keeps the record


class _Worker:
    def __init__(self, module_path: Path) -> None:
        request_read, self.request_write = os.pipe()
        self.reply_read, reply_write = os.pipe()
        self.output_read, output_write = os.pipe()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-I",
                os.path.abspath(__file__),
                "--worker",
                str(module_path),
                str(request_read),
                str(reply_write),
            ],
            stdin=subprocess.DEVNULL,
            stdout=output_write,
            stderr=output_write,
            pass_fds=(request_read, reply_write),
            start_new_session=True,  # its own process group: killing it takes its children too
            close_fds=True,
        )
        for fd in (request_read, reply_write, output_write):
            os.close(fd)
        for fd in (self.reply_read, self.output_read):
            os.set_blocking(fd, False)
        self.reply_buffer = b""
        self.output_tail = b""
        self.output_open = True
        self.reply_open = True

    def send(self, data: dict[str, Any]) -> bool:
        try:
            os.write(self.request_write, (json.dumps(data) + "\n").encode())
            return True
        except OSError:
            return False

    def receive(self, timeout_s: float) -> dict[str, Any] | str:
        """The next reply, or "timeout", or "eof" (the worker closed its pipe or died)."""
        deadline = time.monotonic() + timeout_s
        while True:
            if b"\n" in self.reply_buffer:
                line, self.reply_buffer = self.reply_buffer.split(b"\n", 1)
                try:
                    data = json.loads(line)
                except ValueError:
                    data = None
                return data if isinstance(data, dict) else {"status": "crash", "message": "unreadable reply"}
            if len(self.reply_buffer) > MAX_REPLY_BYTES:
                return {"status": "crash", "message": "the worker's reply was too long"}
            if not self.reply_open:
                return "eof"
            left = deadline - time.monotonic()
            if left <= 0:
                return "timeout"
            fds = [fd for fd, is_open in ((self.reply_read, True), (self.output_read, self.output_open)) if is_open]
            ready, _, _ = select.select(fds, [], [], left)
            if self.output_read in ready:
                self._drain_output()
            if self.reply_read in ready:
                try:
                    chunk: bytes | None = os.read(self.reply_read, 65536)
                except BlockingIOError:
                    chunk = None  # select woke us, but nothing is there yet
                except OSError:
                    chunk = b""
                if chunk:
                    self.reply_buffer += chunk
                elif chunk is not None:
                    self.reply_open = False

    def _drain_output(self) -> int:
        """Read what the worker printed, keep the tail; the number of bytes read."""
        try:
            chunk = os.read(self.output_read, 1 << 20)
        except BlockingIOError:
            return 0
        except OSError:
            chunk = b""
        if not chunk:
            self.output_open = False
            return 0
        self.output_tail = (self.output_tail + chunk)[-OUTPUT_TAIL_CHARS * 4 :]
        return len(chunk)

    def take_output(self) -> str:
        """The tail of what the call printed. Reads what is already in the pipe (bounded, in case a
        thread of the learner's keeps printing) so that it is not counted against the next case."""
        for _ in range(64):
            if not self.output_open or not select.select([self.output_read], [], [], 0)[0]:
                break
            if self._drain_output() == 0:
                break
        text = self.output_tail.decode("utf-8", "replace")[-OUTPUT_TAIL_CHARS:]
        self.output_tail = b""
        return text

    def exit_description(self) -> str:
        try:
            code = self.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            return "the worker stopped answering"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"the worker process was killed by {name}"
        return f"the worker process exited with status {code} (os._exit, or exit from a thread)"

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.kill()
        except OSError:
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for fd in (self.request_write, self.reply_read, self.output_read):
            try:
                os.close(fd)
            except OSError:
                pass


def _arguments(case: dict[str, Any]) -> list[Any]:
    if case["function"] == "kv_cache_bytes":
        return [case["config"], case["batch_size"], case["seq_len"], case["dtype"]]
    return [case["config"], case["seq_len"], case["dtype"], case["kv_budget_bytes"]]


def run(job: dict[str, Any]) -> dict[str, Any]:
    submission = Path(str(job.get("submission", "submission")))
    cases = list(job.get("cases", []))
    call_timeout = float(job.get("call_timeout_s", DEFAULT_CALL_TIMEOUT_S))
    import_timeout = float(job.get("import_timeout_s", DEFAULT_IMPORT_TIMEOUT_S))
    module_path = find_module(submission)
    if module_path is None:
        return {"status": "no_module", "message": common.missing_module(MODULE_NAME), "results": {}}
    output: dict[str, Any] = {
        "status": "ok",
        "module": str(module_path.relative_to(submission)),
        "functions": dict.fromkeys(FUNCTIONS, False),
        "import": None,
        "results": {},
    }
    worker: _Worker | None = None
    import_failure: str | None = None
    emit = common.progress_writer()
    emit({"stage": "call", "status": "started", "total": len(cases)})
    try:
        for done, case in enumerate(cases, start=1):
            name = str(case["name"])
            if import_failure is not None:
                output["results"][name] = _result("no_import", import_failure)
                continue
            if worker is None:
                worker = _Worker(module_path)
                ready = worker.receive(import_timeout)
                tail = worker.take_output()
                if not isinstance(ready, dict) or not ready.get("ready"):
                    if ready == "timeout":
                        import_failure = f"importing {module_path.name} took longer than {import_timeout:g} s"
                    elif ready == "eof":
                        import_failure = f"importing {module_path.name} ended the process: {worker.exit_description()}"
                    else:
                        import_failure = f"importing {module_path.name} failed: {ready.get('message', '')}"
                    output["import"] = {"ok": False, "message": import_failure, "output_tail": tail}
                    worker.kill()
                    worker = None
                    output["results"][name] = _result("no_import", import_failure)
                    continue
                output["functions"] = {fn: bool(ready.get("functions", {}).get(fn)) for fn in FUNCTIONS}
                if output["import"] is None:
                    output["import"] = {
                        "ok": True,
                        "message": "",
                        "elapsed_s": round(float(ready.get("elapsed_s", 0)), 4),
                    }
            if not output["functions"].get(case["function"]):
                output["results"][name] = _result("missing", f"{module_path.name} does not define {case['function']}()")
                continue
            began = time.monotonic()
            sent = worker.send({"function": case["function"], "args": _arguments(case)})
            reply = worker.receive(call_timeout) if sent else "eof"
            elapsed = time.monotonic() - began
            tail = worker.take_output()
            if isinstance(reply, dict):
                result = _result(
                    str(reply.get("status", "crash")),
                    str(reply.get("message", ""))[:MESSAGE_CHARS],
                    value=reply.get("value") if isinstance(reply.get("value"), int) else None,
                )
            elif reply == "timeout":
                result = _result("timeout", f"{case['function']}() did not return within {call_timeout:g} s")
                worker.kill()
                worker = None
            else:
                result = _result("crash", f"{case['function']}() ended the process: {worker.exit_description()}")
                worker.kill()
                worker = None
            result["elapsed_s"] = round(elapsed, 4)
            result["output_tail"] = tail
            output["results"][name] = result
            emit({"stage": "call", "done": done, "total": len(cases)})
    finally:
        if worker is not None:
            worker.kill()
    return output


def _result(status: str, message: str, *, value: int | None = None) -> dict[str, Any]:
    if status not in ("ok", "wrong_type", "too_large", "error", "timeout", "crash", "missing", "no_import"):
        status, message = "crash", f"unexpected reply status {status[:40]!r}"
    return {
        "status": status,
        "value": value if status == "ok" else None,
        "message": message,
        "elapsed_s": 0.0,
        "output_tail": "",
    }


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[1] == "--worker":
        _worker_main(argv[2:])
        return 0
    read = common.read_job(argv)
    if read is None:
        return 2
    job, out_path = read
    output = run(job)
    out_path.write_text(json.dumps(output), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
