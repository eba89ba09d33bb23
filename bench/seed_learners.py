"""Seed the benchmark database: the four roadmaps, 1,000 learners and about 150,000 progress rows.

    python bench/seed_learners.py [--learners 1000] [--fresh]

Writes only to the benchmark database (see bench/benchdb.py). Deterministic (seeded random);
bulk inserts, so it takes seconds, not minutes. Without --fresh an already seeded database is kept.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchdb  # noqa: E402

STATUSES = ["done"] * 6 + ["learning"] * 2 + ["skipped", "not_started"]
PASSWORD = "bench-password"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--learners", type=int, default=1000)
    parser.add_argument("--fresh", action="store_true", help="delete the benchmark database first")
    args = parser.parse_args()
    if args.fresh and benchdb.SQLITE_PATH.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{benchdb.SQLITE_PATH}{suffix}").unlink(missing_ok=True)
    benchdb.setup()

    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import User
    from assessments.models import Activity, PathFollow, SelfAssessment, TopicNote, TopicProgress
    from roadmap.models import Roadmap

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("load_roadmaps", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    call_command("collectstatic", verbosity=0, interactive=False)
    print(f"Schema, roadmaps and static files ready in {time.perf_counter() - started:.1f} s.")
    if User.objects.filter(username__startswith="bench").count() >= args.learners:
        print(
            f"Benchmark database already seeded ({TopicProgress.objects.count():,} progress rows); --fresh redoes it."
        )
        return

    rng = random.Random(2026)
    now = timezone.now()
    roadmaps = list(Roadmap.objects.current().order_by("order"))
    topics = {r.pk: list(r.topics.current().order_by("layer__number", "order")) for r in roadmaps}
    layers = {r.pk: list(r.layers.current()) for r in roadmaps}
    paths = {r.pk: list(r.paths.current()) for r in roadmaps}
    weights = [0.55, 0.2, 0.15, 0.1][: len(roadmaps)]
    password = make_password(PASSWORD)

    with transaction.atomic():
        User.objects.filter(username__startswith="bench").delete()
        users = User.objects.bulk_create(
            User(username=f"bench{i:04d}", display_name=f"Learner {i}", password=password) for i in range(args.learners)
        )
        progress, activity, ratings, notes, follows = [], [], [], [], []
        for user in users:
            # Each learner works mainly on one roadmap, in order, and dips into the others.
            target = max(20, int(rng.gauss(150, 40)))
            primary = rng.choices(roadmaps, weights)[0]
            chosen = topics[primary.pk][: min(target, len(topics[primary.pk]))]
            others = [t for r in roadmaps if r != primary for t in topics[r.pk]]
            chosen += rng.sample(others, min(len(others), max(0, target - len(chosen))))
            for topic in chosen:
                status = rng.choice(STATUSES)
                at = now - timedelta(days=rng.random() * 365)
                confidence = None if status in ("skipped", "not_started") else rng.randint(1, 5)
                progress.append(
                    TopicProgress(
                        user=user, topic=topic, status=status, confidence=confidence, created_at=at, updated_at=at
                    )
                )
                activity.append(
                    Activity(user=user, verb="status", topic=topic, status=status, confidence=confidence, created_at=at)
                )
            for layer in rng.sample(layers[primary.pk], min(5, len(layers[primary.pk]))):
                for _ in range(rng.randint(1, 3)):
                    ratings.append(
                        SelfAssessment(
                            user=user,
                            layer=layer,
                            level=rng.randint(0, 6),
                            justification="Benchmark rating.",
                            created_at=now - timedelta(days=rng.random() * 365),
                        )
                    )
            for topic in rng.sample(chosen, min(10, len(chosen))):
                notes.append(TopicNote(user=user, topic=topic, body="Benchmark **note** with `code`.\n\n- one\n- two"))
            if paths[primary.pk]:
                follows.append(PathFollow(user=user, path=rng.choice(paths[primary.pk])))
        built = time.perf_counter()
        for model, rows in (
            (TopicProgress, progress),
            (Activity, activity),
            (SelfAssessment, ratings),
            (TopicNote, notes),
            (PathFollow, follows),
        ):
            model.objects.bulk_create(rows, batch_size=5000)
        print(f"Rows built in {built - started:.1f} s, inserted in {time.perf_counter() - built:.1f} s.")
    from django.db import connection

    with connection.cursor() as cursor:  # fresh statistics, so the planner sees 150,000 rows
        cursor.execute("ANALYZE")
    print(
        f"Seeded {len(users):,} learners: {len(progress):,} progress rows, {len(activity):,} activity rows, "
        f"{len(ratings):,} self-assessments, {len(notes):,} notes, {len(follows):,} path follows "
        f"in {time.perf_counter() - started:.1f} s."
    )


if __name__ == "__main__":
    main()
