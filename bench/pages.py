"""Server time of the learner pages on the seeded benchmark database (run bench/seed_learners.py first).

    python bench/pages.py [--iterations 200] [--json out.json]

Each request goes through the whole Django stack in-process (middleware, session, views,
templates) with the test client, as a different learner each time, with DEBUG off. Reported per
page, after a warm-up: p50, p95 and max wall time, and p50/p95 of the CPU time the request took
in this thread (SQLite runs in-process, so on an idle machine the two agree; when other work
competes for the cores, wall time grows and CPU time does not). No network, no web server: this
is the time the application itself takes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchdb  # noqa: E402

TARGET_P95_MS = 100.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=200, help="requests per page (default 200)")
    parser.add_argument(
        "--warmup", type=int, default=50, help="untimed requests per page first (default 50: one per learner)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    benchdb.setup()

    from django.test import Client

    from accounts.models import User
    from assessments.models import Activity, TopicProgress
    from roadmap.models import Roadmap, Topic

    learners = list(User.objects.filter(username__startswith="bench").order_by("pk"))
    if not learners:
        sys.exit("The benchmark database has no learners: run bench/seed_learners.py first.")
    primary = Roadmap.objects.get(slug="llm-systems-engineering")
    layer = primary.layers.current().order_by("number").first()
    topic = primary.topics.current().order_by("layer__number", "order").first()
    pages = {
        "dashboard": "/me/",
        "dashboard, one roadmap": f"/me/?roadmap={primary.slug}",
        "roadmap page (graph)": primary.get_absolute_url(),
        "layer page": layer.get_absolute_url(),
        "topic page": topic.get_absolute_url(),
        "checklist (all topics)": f"/me/progress/{primary.slug}/",
    }
    clients = []
    for user in learners[:: max(1, len(learners) // 50)]:
        client = Client()
        client.force_login(user)
        clients.append(client)

    workload = (
        f"{len(learners):,} learners, {TopicProgress.objects.count():,} progress rows, "
        f"{Activity.objects.count():,} activity rows, {Topic.objects.current().count()} topics in "
        f"{Roadmap.objects.current().count()} roadmaps; {args.iterations} requests per page over "
        f"{len(clients)} learners, {args.warmup} warm-up"
    )
    print(f"Workload: {workload}")
    print(f"Machine:  {benchdb.machine()}")
    print()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    print(f"{'page':<26} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'cpu p50':>8} {'cpu p95':>8} {'KB':>6}")
    results = {}
    for name, url in pages.items():
        for i in range(args.warmup):
            clients[i % len(clients)].get(url)
        times, cpu = [], []
        size = 0
        for i in range(args.iterations):
            client = clients[i % len(clients)]
            start, start_cpu = time.perf_counter(), time.thread_time()
            response = client.get(url)
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.thread_time() - start_cpu) * 1000)
            assert response.status_code == 200, (url, response.status_code)
            size = len(response.content)
        p50, p95 = statistics.median(times), percentile(times, 95)
        cpu50, cpu95 = statistics.median(cpu), percentile(cpu, 95)
        results[name] = {
            "url": url,
            "p50_ms": round(p50, 1),
            "p95_ms": round(p95, 1),
            "max_ms": round(max(times), 1),
            "cpu_p50_ms": round(cpu50, 1),
            "cpu_p95_ms": round(cpu95, 1),
            "kb": round(size / 1024),
        }
        flag = "" if p95 < TARGET_P95_MS else f"  p95 over the {TARGET_P95_MS:.0f} ms target"
        print(f"{name:<26} {p50:8.1f} {p95:8.1f} {max(times):8.1f} {cpu50:8.1f} {cpu95:8.1f} {size / 1024:6.0f}{flag}")
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        figures = {"workload": workload, "machine": benchdb.machine(), "pages": results}
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
