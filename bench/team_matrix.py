"""Server time of the team pages for a team of 200 members, on the seeded benchmark database.

    python bench/team_matrix.py [--members 200] [--iterations 200] [--json out.json]

Needs bench/seed_learners.py first (its learners, with their progress, self-ratings and activity,
become the team's members). Makes or reuses the team "bench-team" with the first N benchmark
learners (the first one its lead), then times, as the lead, the team matrix of the primary roadmap
(core layers, then with the advanced tracks), its CSV, the weakest topics and the inactivity page,
the same way bench/pages.py times the learner pages: the whole Django stack in-process with the
test client, DEBUG off, after a warm-up; wall time p50/p95/max and the request thread's CPU time.
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
from pages import TARGET_P95_MS, percentile  # noqa: E402

TEAM_SLUG = "bench-team"


def seed_team(members: int) -> object:
    """The benchmark team with exactly the first `members` benchmark learners; idempotent."""
    from django.db import transaction

    from accounts.models import Membership, Team, User

    learners = list(User.objects.filter(username__startswith="bench").order_by("pk")[:members])
    if len(learners) < members:
        sys.exit(f"The benchmark database has {len(learners)} learners, not {members}: run bench/seed_learners.py.")
    with transaction.atomic():
        team, _ = Team.objects.get_or_create(
            slug=TEAM_SLUG, defaults={"name": "Benchmark team", "visibility": Team.Visibility.AGGREGATE}
        )
        team.memberships.exclude(user__in=learners).delete()
        have = set(team.memberships.values_list("user_id", flat=True))
        Membership.objects.bulk_create(
            Membership(team=team, user=user, role=Membership.Role.LEAD if i == 0 else Membership.Role.MEMBER)
            for i, user in enumerate(learners)
            if user.pk not in have
        )
        team.memberships.filter(user=learners[0]).update(role=Membership.Role.LEAD)
    return team, learners[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--iterations", type=int, default=200, help="requests per page (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests per page first")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    benchdb.setup()

    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from assessments.models import Activity, SelfAssessment, TopicProgress
    from roadmap.models import Roadmap

    team, lead = seed_team(args.members)
    primary = Roadmap.objects.get(slug="llm-systems-engineering")
    members = team.memberships.values("user_id")
    matrix = reverse("teams:team-matrix", args=[TEAM_SLUG])
    pages = {
        "team matrix": f"{matrix}?roadmap={primary.slug}",
        "team matrix, with tracks": f"{matrix}?roadmap={primary.slug}&tracks=1",
        "team matrix CSV": reverse("teams:team-matrix-csv", args=[TEAM_SLUG]) + f"?roadmap={primary.slug}",
        "weakest topics": reverse("teams:team-weakest", args=[TEAM_SLUG]) + f"?roadmap={primary.slug}",
        "inactive members": reverse("teams:team-inactive", args=[TEAM_SLUG]),
    }
    client = Client()
    client.force_login(lead)
    workload = (
        f"a team of {team.memberships.count()} members with "
        f"{TopicProgress.objects.filter(user__in=members).count():,} progress rows, "
        f"{SelfAssessment.objects.filter(user__in=members).count():,} self-assessments and "
        f"{Activity.objects.filter(user__in=members).count():,} activity rows, in a database of "
        f"{TopicProgress.objects.count():,} progress rows; {args.iterations} requests per page as its lead, "
        f"{args.warmup} warm-up"
    )
    print(f"Workload: {workload}")
    print(f"Machine:  {benchdb.machine()}")
    print()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    print(
        f"{'page':<26} {'queries':>7} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'cpu p50':>8} {'cpu p95':>8} {'KB':>6}"
    )
    results = {}
    for name, url in pages.items():
        # Counted with an execute wrapper: the request closes its connection, which empties the query log.
        queries: list[str] = []

        def count(execute, sql, params, many, context, queries=queries):  # type: ignore[no-untyped-def]
            queries.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        for _ in range(args.warmup):
            client.get(url)
        times, cpu = [], []
        for _ in range(args.iterations):
            start, start_cpu = time.perf_counter(), time.thread_time()
            response = client.get(url)
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.thread_time() - start_cpu) * 1000)
        size = len(response.content)
        p50, p95 = statistics.median(times), percentile(times, 95)
        cpu50, cpu95 = statistics.median(cpu), percentile(cpu, 95)
        results[name] = {
            "url": url,
            "queries": len(queries),
            "p50_ms": round(p50, 1),
            "p95_ms": round(p95, 1),
            "max_ms": round(max(times), 1),
            "cpu_p50_ms": round(cpu50, 1),
            "cpu_p95_ms": round(cpu95, 1),
            "kb": round(size / 1024),
        }
        flag = "" if p95 < TARGET_P95_MS else f"  p95 over the {TARGET_P95_MS:.0f} ms target"
        print(
            f"{name:<26} {len(queries):>7} {p50:8.1f} {p95:8.1f} {max(times):8.1f} {cpu50:8.1f} {cpu95:8.1f} "
            f"{size / 1024:6.0f}{flag}"
        )
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        figures = {"workload": workload, "machine": benchdb.machine(), "pages": results}
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
