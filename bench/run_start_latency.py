"""How soon an idle runner starts a queued run, on the filesystem broker and on Redis.

    .venv-runner/bin/python bench/run_start_latency.py [--runs 20] [--no-redis]

Starts a real runner worker (the runner env's celery, prefork, one process, as in production)
on a broker of its own (a temporary filesystem broker; then a private redis-server on a free
loopback port, if redis-server is installed), publishes `runner.execute` jobs for the trivial
`script` grader one at a time, and reads the runner's progress messages from queue "default"
the way the Django worker would. Reported per broker, p50/p95/max of:

  received   publish -> the runner took the job (the time on its "received" progress message)
  grading    publish -> the runner began grading (its "grading" message: the sandboxed step starts)
  result     publish -> roughly when the job ended (grading start plus the job's own duration)

Times come from the runner's `sent_at` stamps (same host, same clock), not from when this script
happens to read the messages back: a synchronous kombu consumer polls Redis much more slowly than
the Django worker's event loop, and would measure itself. The target (DESIGN.md): a queued run
starts within 1 s on an idle runner.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from queue import Empty

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from portfolio.runner import celery_app, protocol  # noqa: E402

OK_PROGRAM = b"import json\nprint(json.dumps({'ok': True}))\n"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    celery = Path(sys.executable).parent / "celery"
    command = [str(celery), "-A", "portfolio.runner.celery_app", "worker", "-Q", "runner", "-c", "1"]
    command += ["--pool", "prefork", "-l", "info", "-n", f"bench-{secrets.token_hex(3)}@%h"]
    command += ["--without-gossip", "--without-mingle"]
    with open(log, "wb") as out:
        worker = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if " ready." in log.read_text(errors="replace"):
            return worker
        if worker.poll() is not None:
            break
        time.sleep(0.1)
    stop(worker)
    sys.exit(f"the runner worker did not start; see {log}")


def stop(worker: subprocess.Popen[bytes]) -> None:
    # TERM to the main process only, then KILL: a TERM to the whole group can deadlock billiard.
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)


def measure(environ: dict[str, str], runs: int, work: Path) -> dict[str, list[float]]:
    app = celery_app.create_app(environ)
    worker = start_worker({**os.environ, **environ}, work / f"worker-{secrets.token_hex(3)}.log")
    marks: dict[str, list[float]] = {"received": [], "grading": [], "result": []}
    try:
        with app.connection_for_read() as connection:
            queue = connection.SimpleQueue(protocol.QUEUE_DEFAULT, no_ack=True)
            for n in range(runs + 1):  # the first job warms the worker's child process up
                attempt_id = 900_000 + n
                payload = protocol.make_payload(
                    attempt_id=attempt_id, run_id=attempt_id, attempt=1, grader="script", grader_version="1",
                    filename="main.py", data=OK_PROGRAM, limits={"wall_s": 30},
                )  # fmt: skip
                time.sleep(0.5)  # let the runner go idle again
                sent = time.time()
                app.send_task(protocol.TASK_EXECUTE, args=[payload], queue=protocol.QUEUE_RUNNER)
                seen: dict[str, float] = {}
                deadline = sent + 60
                while "result" not in seen and time.time() < deadline:
                    try:
                        message = queue.get(timeout=1)
                    except Empty:
                        continue
                    task, (aid, data) = message.headers["task"], message.decode()[0][:2]
                    if aid != attempt_id:
                        continue
                    if task == protocol.TASK_RECORD_RESULT:
                        # The result carries its duration; the runner sent it when the job ended.
                        seen["result"] = seen.get("grading", 0.0) + float(data.get("duration_s") or 0.0)
                    elif data.get("stage") in ("received", "grading") and "sent_at" in data:
                        # The runner's own clock (same host): this benchmark's kombu consumer polls
                        # Redis far more slowly than the Django worker's event loop does.
                        seen.setdefault(data["stage"], data["sent_at"] - sent)
                if n and len(seen) == 3:
                    for key, value in seen.items():
                        marks[key].append(value)
            queue.close()
    finally:
        stop(worker)
    return marks


def report(label: str, marks: dict[str, list[float]]) -> None:
    print(f"\n{label}: {len(marks['result'])} runs")
    print(f"  {'':<10} {'p50 s':>7} {'p95 s':>7} {'max s':>7}")
    for key, values in marks.items():
        if values:
            print(f"  {key:<10} {statistics.median(values):7.3f} {percentile(values, 95):7.3f} {max(values):7.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--no-redis", action="store_true")
    args = parser.parse_args()
    runner_python = os.environ.get("RUNNER_PYTHON") or sys.executable
    base = {"RUNNER_PYTHON": runner_python, "RUNNER_HEARTBEAT_S": "5"}
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        "?",
    )
    print(f"Machine: {cpu}, {os.cpu_count()} cores; runner worker: prefork, 1 process; grader: script (bubblewrap)")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="layerwise-bench-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o755)
        fs = {**base, "CELERY_BROKER_URL": "filesystem://", "RUNNER_BROKER_DIR": str(work / "broker")}
        report("filesystem broker (polling every 0.1 s)", measure(fs, args.runs, work))
        if not args.no_redis and shutil.which("redis-server"):
            port = free_port()
            redis = subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                time.sleep(0.5)
                url = {**base, "CELERY_BROKER_URL": f"redis://127.0.0.1:{port}/0"}
                report(f"Redis {port} on loopback", measure(url, args.runs, work))
            finally:
                redis.terminate()
                redis.wait(10)
        elif not args.no_redis:
            print("\n(redis-server is not installed: skipping the Redis broker)")
    print(f"\nload average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
