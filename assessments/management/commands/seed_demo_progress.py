from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from assessments.models import Activity, PathFollow, SelfAssessment, Status, TopicNote, TopicProgress
from roadmap.models import Roadmap

ROADMAP = "llm-systems-engineering"
# username: (topics done, then learning, every how many-th done topic is skipped instead, level per layer)
PLANS = {
    "ada": (16, 3, 7, [3, 2, 1]),
    "bo": (6, 2, 0, [1]),
}
NOTE = """The tokenizer decides what a "token" costs: the same sentence is 9 tokens in one model and 14 in another.

- Check the **chat template** before blaming the model.
- Measure: `len(tok(text).input_ids)` on real traffic, not on English prose only.
"""


class Command(BaseCommand):
    help = (
        "Give the demo learners (ada, bo) some progress, self-ratings, a note and a followed path on the "
        "LLM Systems Engineering roadmap, spread over the last weeks. Deterministic; a learner who has any "
        "progress already is left alone."
    )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        roadmap = Roadmap.objects.current().filter(slug=ROADMAP).first()
        if roadmap is None:
            self.stdout.write(f"Roadmap {ROADMAP!r} is not loaded (manage.py load_roadmaps); no demo progress.")
            return
        topics = list(roadmap.topics.current().order_by("layer__number", "order"))
        layers = list(roadmap.layers.current())
        path = roadmap.paths.current().first()
        today = timezone.localdate()
        for username, (done, learning, skip_every, levels) in PLANS.items():
            user = User.objects.filter(username=username).first()
            if user is None or TopicProgress.objects.of(user).exists():
                continue
            count = done + learning
            for i, topic in enumerate(topics[:count]):
                # One topic a day, ending today, so the streak is alive; a gap a week ago breaks it once.
                day = today - timedelta(days=count - 1 - i + (2 if i < count - 6 else 0))
                at = timezone.make_aware(datetime.combine(day, time(9 + i % 9, 15)))
                if i >= done:
                    status = Status.LEARNING
                elif skip_every and (i + 1) % skip_every == 0:
                    status = Status.SKIPPED
                else:
                    status = Status.DONE
                confidence = None if status == Status.SKIPPED else 2 + (i * 7) % 4
                TopicProgress.objects.create(
                    user=user, topic=topic, status=status, confidence=confidence, created_at=at, updated_at=at
                )
                Activity.objects.create(
                    user=user,
                    verb=Activity.Verb.STATUS,
                    topic=topic,
                    status=status,
                    confidence=confidence,
                    created_at=at,
                )
            for layer, level in zip(layers, levels, strict=False):
                row = SelfAssessment.record(
                    user, layer, level=level, justification=f"Worked through the topics of {layer.label}."
                )
                assert row is not None
            TopicNote.write(user, topics[0], NOTE)
            if path is not None:
                PathFollow.follow(user, path)
            ratings = "self-rating" if len(levels) == 1 else "self-ratings"
            self.stdout.write(f"  {username}: {count} topics marked, {len(levels)} {ratings}, a note")
