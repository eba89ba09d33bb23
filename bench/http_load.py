"""The running app under concurrent load, over HTTP on loopback (run bench/seed_learners.py first).

    python bench/http_load.py [--concurrency 1 4 16] [--requests 300] [--max-seconds 60] [--json out.json]

Starts gunicorn (production settings: DEBUG off, hashed static files, the benchmark database)
on 127.0.0.1 at a free port, logs in a pool of seeded learners (sessions and API tokens made in
the benchmark database), and for each endpoint and concurrency level sends a fixed number of
requests from that many client threads, each keeping its connection open. Every loop is bounded
in count and in time. Reported per endpoint and level: p50, p95 and p99 latency as the client
saw it, throughput, and errors; and, measured separately in-process, the number of database
queries the endpoint issues. Only loopback addresses are used.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchdb  # noqa: E402

ROOT = benchdb.ROOT
HOST = "127.0.0.1"
TOKEN_NAME = "http load benchmark"


def percentile(values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Endpoint:
    name: str
    path: str
    auth: str  # "session" or "token"
    queries: int | None = None


@dataclass
class Level:
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0


def session_cookie(user: object) -> str:
    """A logged-in session made directly in the database (no password hashing per learner)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)  # type: ignore[attr-defined]
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()  # type: ignore[attr-defined]
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def credentials(count: int) -> tuple[list[str], list[str]]:
    """Session cookies and API tokens for `count` seeded learners."""
    from accounts.models import ApiToken, User

    learners = list(User.objects.filter(username__startswith="bench").order_by("pk")[:count])
    if not learners:
        sys.exit("The benchmark database has no learners: run bench/seed_learners.py first.")
    cookies = [session_cookie(user) for user in learners]
    tokens = [ApiToken.issue(user, TOKEN_NAME)[1] for user in learners]
    return cookies, tokens


def endpoints() -> list[Endpoint]:
    from django.urls import NoReverseMatch, reverse

    from roadmap.models import Roadmap

    primary = Roadmap.objects.get(slug="llm-systems-engineering")
    found = [
        Endpoint("dashboard", "/me/", "session"),
        Endpoint("roadmap page", primary.get_absolute_url(), "session"),
        Endpoint("API progress", f"/api/v1/me/progress?roadmap={primary.slug}", "token"),
    ]
    # The team matrix exists once teams are built; the benchmark team is seeded by bench/team_matrix.py.
    from accounts.models import Team

    team = Team.objects.filter(slug="bench-team").first()
    if team is not None:
        try:
            found.append(Endpoint("team matrix", reverse("assessments:team-matrix", args=[team.slug]), "lead"))
        except NoReverseMatch:
            pass
    return found


def count_queries(endpoint: Endpoint) -> int:
    """Database queries for one request, in-process through the whole stack."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import Membership, User

    client = Client()
    headers = {}
    if endpoint.auth == "token":
        from accounts.models import ApiToken

        user = User.objects.filter(username__startswith="bench").order_by("pk").first()
        headers["Authorization"] = f"Bearer {ApiToken.issue(user, TOKEN_NAME)[1]}"
    elif endpoint.auth == "lead":
        lead = Membership.objects.filter(team__slug="bench-team", role=Membership.Role.LEAD).first()
        client.force_login(lead.user)
    else:
        client.force_login(User.objects.filter(username__startswith="bench").order_by("pk").first())
    client.get(endpoint.path, headers=headers)  # warm caches first, as the load does
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(endpoint.path, headers=headers)
    assert response.status_code == 200, (endpoint.path, response.status_code)
    return len(ctx)


def run_level(
    port: int, endpoint: Endpoint, auth_values: list[str], concurrency: int, total: int, max_s: float
) -> Level:
    level = Level()
    lock = threading.Lock()
    remaining = [total]
    deadline = time.monotonic() + max_s

    def worker(index: int) -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=30)
        auth = auth_values[index % len(auth_values)]
        headers = {"Authorization": f"Bearer {auth}"} if endpoint.auth == "token" else {"Cookie": auth}
        while time.monotonic() < deadline:
            with lock:
                if remaining[0] <= 0:
                    break
                remaining[0] -= 1
            start = time.perf_counter()
            try:
                connection.request("GET", endpoint.path, headers=headers)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
                error = None if ok else f"HTTP {response.status}"
            except (OSError, http.client.HTTPException) as exc:
                error = type(exc).__name__
                connection.close()
                connection = http.client.HTTPConnection(HOST, port, timeout=30)
            elapsed = (time.perf_counter() - start) * 1000
            with lock:
                if error:
                    level.errors[error] = level.errors.get(error, 0) + 1
                else:
                    level.latencies_ms.append(elapsed)
        connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    level.wall_s = time.perf_counter() - started
    return level


def start_server(port: int, workers: int, threads: int) -> subprocess.Popen[bytes]:
    log = open(benchdb.BENCH_DIR / "gunicorn.log", "wb")  # noqa: SIM115 - the server keeps it
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "config.wsgi:application",
        f"--bind={HOST}:{port}",
        f"--workers={workers}",
        "--worker-class=gthread",
        f"--threads={threads}",
        "--keep-alive=30",
        "--log-level=warning",
    ]
    env = {**os.environ, "ALLOWED_HOSTS": f"{HOST},localhost"}
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
    for _ in range(300):
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return server
        except OSError:
            if server.poll() is not None:
                sys.exit(f"gunicorn exited; see {log.name}")
            time.sleep(0.1)
    server.kill()
    sys.exit(f"gunicorn did not start in 30 s; see {log.name}")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--requests", type=int, default=300, help="requests per endpoint and level (default 300)")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="time cap per endpoint and level")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default: 2, one per core)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (default 4)")
    parser.add_argument("--learners", type=int, default=50, help="distinct learners sending requests")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    benchdb.setup()

    from django.contrib.sessions.models import Session

    from accounts.models import ApiToken, Membership

    cookies, tokens = credentials(args.learners)
    lead = Membership.objects.filter(team__slug="bench-team", role=Membership.Role.LEAD).select_related("user").first()
    lead_cookies = [session_cookie(lead.user)] if lead else []
    found = endpoints()
    for endpoint in found:
        endpoint.queries = count_queries(endpoint)

    from assessments.models import TopicProgress

    workload = (
        f"{TopicProgress.objects.count():,} progress rows; {args.requests} requests per endpoint and level "
        f"(cap {args.max_seconds:.0f} s) from {len(cookies)} learners; gunicorn gthread "
        f"{args.workers} workers x {args.threads} threads on {HOST}"
    )
    print(f"Workload: {workload}")
    print(f"Machine:  {benchdb.machine()}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    port = free_port()
    server = start_server(port, args.workers, args.threads)
    results: dict[str, dict[str, object]] = {}
    try:
        print(
            f"{'endpoint':<16} {'conc':>4} {'ok':>5} {'err':>4} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>7} {'queries':>7}"
        )
        for endpoint in found:
            values = {"session": cookies, "token": tokens, "lead": lead_cookies}[endpoint.auth]
            run_level(port, endpoint, values, min(4, len(values)), min(20, args.requests), args.max_seconds)  # warm-up
            for concurrency in args.concurrency:
                level = run_level(port, endpoint, values, concurrency, args.requests, args.max_seconds)
                ok = len(level.latencies_ms)
                row = {
                    "path": endpoint.path,
                    "concurrency": concurrency,
                    "ok": ok,
                    "errors": level.errors,
                    "p50_ms": round(statistics.median(level.latencies_ms), 1) if ok else None,
                    "p95_ms": round(percentile(level.latencies_ms, 95), 1) if ok else None,
                    "p99_ms": round(percentile(level.latencies_ms, 99), 1) if ok else None,
                    "req_per_s": round(ok / level.wall_s, 1) if level.wall_s else None,
                    "queries": endpoint.queries,
                }
                results[f"{endpoint.name} @ {concurrency}"] = row
                print(
                    f"{endpoint.name:<16} {concurrency:>4} {ok:>5} {sum(level.errors.values()):>4} "
                    f"{row['p50_ms'] or 0:>8.1f} {row['p95_ms'] or 0:>8.1f} {row['p99_ms'] or 0:>8.1f} "
                    f"{row['req_per_s'] or 0:>7.1f} {endpoint.queries:>7}"
                    + (f"  errors: {level.errors}" if level.errors else "")
                )
    finally:
        stop_server(server)
        # Leave the benchmark database as it was: these sessions and tokens were only for this run.
        ApiToken.objects.filter(name=TOKEN_NAME).delete()
        Session.objects.all().delete()
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        args.json.write_text(
            json.dumps({"workload": workload, "machine": benchdb.machine(), "results": results}, indent=2)
        )


if __name__ == "__main__":
    main()
