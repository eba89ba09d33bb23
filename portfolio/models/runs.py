"""The runs that verify artifact versions, and their attempts.

A Run is one verification of one ArtifactVersion by one grader (name and version pinned when the
run is created). It is carried out by at most RUNNER_MAX_ATTEMPTS RunAttempts: only our own
faults (a system error reported by the runner, or a worker whose heartbeat stopped) start a new
attempt; the submission's failures end the run. Every transition is a conditional UPDATE (or a
locked read-check-write), so a duplicate or late message from an attempt that is no longer
current changes nothing (runner_anchors.md A.3).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from celery import current_app
from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string
from kombu.exceptions import ChannelError

from accounts.models import Membership, Notification, User
from core.ratelimit import RateLimit
from portfolio.runner import protocol

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)


class RunRefused(Exception):
    """A run we will not start; `message` tells the learner why and what to do. `retry_after`
    (seconds) is set when only time will lift the refusal (a rate limit)."""

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


# GPU time is the scarce thing: runs started per learner (uploads of a runnable spec, "Run this
# version", "Run again"), counted when a run is created. Limit in settings.RATE_LIMITS.
RUN_SUBMISSIONS = RateLimit("run-submissions", "20/1h")

# --- runs and attempts -----------------------------------------------------------------------


class RunQuerySet(models.QuerySet["Run"]):
    def active(self) -> RunQuerySet:
        return self.filter(status__in=Run.ACTIVE)

    def finished(self) -> RunQuerySet:
        return self.exclude(status__in=Run.ACTIVE)

    def of(self, user: User) -> RunQuerySet:
        return self.filter(version__artifact__owner_id=user.pk) if user.is_authenticated else self.none()

    def visible_to(self, user: User) -> RunQuerySet:
        """Runs of the user's own artifacts and of those of learners in teams where they review
        (the same people as Artifact.objects.visible_to)."""
        if not user.is_authenticated:
            return self.none()
        reviewed = Membership.objects.learners_reviewed_by(user)
        return self.filter(Q(version__artifact__owner_id=user.pk) | Q(version__artifact__owner_id__in=reviewed))

    def comparable_to(self, run: Run) -> RunQuerySet:
        """Finished runs of the same artifact by the same grader that started before `run` and
        stored results: what its page offers to compare with (never another artifact's runs)."""
        earlier = Q(created_at__lt=run.created_at) | Q(created_at=run.created_at, pk__lt=run.pk)
        return (
            self.finished()
            .filter(earlier, version__artifact_id=run.version.artifact_id, grader=run.grader)
            .filter(metrics__has_key="levels")
            .exclude(pk=run.pk)
            .select_related("version")
        )


class Run(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        TIMED_OUT = "timed_out", "Timed out"
        ERROR = "error", "Error (ours)"
        CANCELLED = "cancelled", "Cancelled"
        LOST = "lost", "Lost"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    version = models.ForeignKey("portfolio.ArtifactVersion", on_delete=models.PROTECT, related_name="runs")
    grader = models.CharField(max_length=64)
    grader_version = models.CharField(max_length=64)
    params = models.JSONField(default=dict, blank=True)
    limits = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    stage = models.CharField(max_length=64, blank=True, default="queued")
    verdict = models.CharField(max_length=32, blank=True)
    score = models.FloatField(null=True, blank=True)
    max_score = models.FloatField(null=True, blank=True)
    message = models.TextField(blank=True)
    tests = models.JSONField(default=list, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    environment = models.JSONField(default=dict, blank=True)
    log_tail = models.TextField(blank=True)
    sandboxed = models.BooleanField(null=True, blank=True, help_text="Unknown until the runner reports.")
    duration_s = models.FloatField(null=True, blank=True)
    current_attempt = models.ForeignKey(
        "RunAttempt", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="runs_requested")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = RunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["requested_by", "status"], name="run_requester_status")]
        constraints = [
            models.CheckConstraint(
                condition=Q(finished_at__isnull=True) | ~Q(status__in=["queued", "running"]),
                name="run_finished_only_when_ended",
            ),
        ]

    def __str__(self) -> str:
        return f"Run {self.pk} of {self.version}"

    def get_absolute_url(self) -> str:
        return reverse("portfolio:run-detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def attempt_number(self) -> int:
        return self.current_attempt.number if self.current_attempt else 0

    # -- which grader spoke --

    @property
    def graded_by_current_grader(self) -> bool:
        """Whether the grader (name and version) pinned on this run is one deployed now
        (settings.RUNNER_GRADERS, RUNNER_CODE_GRADERS); a verdict of any other grader no longer verifies anything."""
        deployed = {*settings.RUNNER_GRADERS.values(), *settings.RUNNER_CODE_GRADERS.values()}
        return (self.grader, self.grader_version) in deployed

    @property
    def is_stale(self) -> bool:
        """Finished, but by a grader that is no longer deployed: `manage.py regrade` runs it again."""
        return not self.is_active and not self.graded_by_current_grader

    @property
    def verdict_state(self) -> str:
        """passed | failed | running | stale: what a list of evidence shows for this run. Stale wins
        over passed and failed, because neither was said by the grader deployed now."""
        if self.is_active:
            return "running"
        if self.is_stale:
            return "stale"
        return "passed" if self.status == Run.Status.SUCCEEDED else "failed"

    def visible_tests(self) -> list[dict[str, Any]]:
        """Tests as a learner may see them: hidden cases keep only their name, status and error,
        and the category and hint of a grader that gives them (tiny_transformer)."""
        shown = []
        for test in self.tests:
            if test.get("visibility") == "hidden":
                details = {k: v for k, v in (test.get("details") or {}).items() if k in ("category", "hint")}
                test = {k: test.get(k) for k in ("name", "status", "rel_error")} | {"visibility": "hidden"}
                if details:
                    test["details"] = details
            shown.append(test)
        return shown

    # -- transitions --

    def start_attempt(self, number: int) -> RunAttempt:
        """Create attempt `number` and make it current; it is sent to the runner on commit."""
        attempt = RunAttempt.objects.create(run=self, number=number)
        Run.objects.filter(pk=self.pk).update(current_attempt=attempt)
        self.current_attempt = attempt
        transaction.on_commit(attempt.send, robust=True)
        return attempt

    def record_result(self, attempt_id: int, result: Mapping[str, Any]) -> str:
        """File the runner's result for `attempt_id`; returns "stored", "retried" or "discarded".

        A result is stored only while its attempt is the run's current one and still active: a
        late result from a reaped attempt, a duplicate, or one arriving after a cancel changes
        nothing. A system error starts the next attempt until RUNNER_MAX_ATTEMPTS.
        """
        result = _checked_result(attempt_id, self.pk, result)
        now = timezone.now()
        with transaction.atomic():
            run = Run.objects.select_for_update().get(pk=self.pk)
            if run.current_attempt_id != attempt_id or not run.is_active:
                return "discarded"
            retry = protocol.is_retryable(result)
            claimed = RunAttempt.objects.filter(pk=attempt_id, status__in=RunAttempt.ACTIVE).update(
                status=RunAttempt.Status.ERROR if retry else RunAttempt.Status.FINISHED,
                outcome=result["outcome"],
                verdict=result["verdict"],
                message=result["message"],
                worker=str(result.get("environment", {}).get("hostname", ""))[:200],
                finished_at=now,
            )
            if not claimed:
                return "discarded"
            report = {
                "verdict": result["verdict"],
                "score": result.get("score"),
                "max_score": result.get("max_score"),
                "tests": result.get("tests", []),
                "metrics": result.get("metrics", {}),
                "raw": result.get("raw", {}),
                "environment": result.get("environment", {}),
                "log_tail": result.get("log_tail", ""),
                "sandboxed": bool(result.get("sandboxed")),
                "duration_s": result.get("duration_s"),
            }
            if retry:
                what = run._retry_or_end(Run.Status.ERROR, result["message"], **report)
                self.refresh_from_db()
                return what
            ended = Run.objects.filter(pk=run.pk, status__in=Run.ACTIVE).update(
                status=_status_for(result),
                message=result["message"],
                stage="finished",
                finished_at=now,
                started_at=run.started_at or now,
                **report,
            )
            if ended:
                run.refresh_from_db()
                run.ended()
        self.refresh_from_db()
        return "stored"

    def record_lost(self, attempt_id: int) -> str:
        """The reaper's verdict on an attempt whose heartbeat stopped: retry, or end the run `lost`."""
        now = timezone.now()
        with transaction.atomic():
            run = Run.objects.select_for_update().get(pk=self.pk)
            claimed = RunAttempt.objects.filter(pk=attempt_id, status=RunAttempt.Status.RUNNING).update(
                status=RunAttempt.Status.LOST,
                message="The runner stopped sending heartbeats; its worker died or lost the broker.",
                finished_at=now,
            )
            if not claimed or run.current_attempt_id != attempt_id or not run.is_active:
                return "discarded"
            attempt = RunAttempt.objects.get(pk=attempt_id)
            message = (
                f"Attempt {attempt.number} was lost: the runner stopped sending heartbeats "
                f"(last at {attempt.heartbeat_at:%H:%M:%S} UTC)."
            )
            what = run._retry_or_end(Run.Status.LOST, message)
        self.refresh_from_db()
        return what

    def record_undeliverable(self, attempt_id: int) -> str:
        """An attempt that could never be handed to the runner queue: our fault, like a lost one."""
        now = timezone.now()
        with transaction.atomic():
            run = Run.objects.select_for_update().get(pk=self.pk)
            attempt = RunAttempt.objects.filter(pk=attempt_id).first()
            # A send that failed says why; one that succeeded every time lost its message on the broker.
            error = attempt.dispatch_error if attempt else ""
            reason = error.split(":", 1)[0] if error else "its message was lost on the broker"
            claimed = RunAttempt.objects.filter(pk=attempt_id, status=RunAttempt.Status.QUEUED).update(
                status=RunAttempt.Status.ERROR,
                outcome=protocol.OUTCOME_SYSTEM_ERROR,
                verdict=protocol.VERDICT_ERROR,
                message="Could not be handed to the runner queue.",
                finished_at=now,
            )
            if not claimed or attempt is None or run.current_attempt_id != attempt_id or not run.is_active:
                return "discarded"
            message = (
                f"Attempt {attempt.number} could not be handed to the runner queue "
                f"({reason}, {attempt.dispatch_tries} tries)."
            )
            what = run._retry_or_end(Run.Status.ERROR, message)
        self.refresh_from_db()
        return what

    def _retry_or_end(self, failure: str, message: str, **report: Any) -> str:
        """After a fault of ours: the next attempt, or the run ends `failure` (error or lost).

        Runs inside the caller's transaction, with the run locked and the failed attempt closed."""
        number = self.current_attempt.number if self.current_attempt else 0
        if number >= settings.RUNNER_MAX_ATTEMPTS:
            fields = {
                **report,
                "status": failure,
                "stage": "finished",
                "message": f"{message} Gave up after {number} attempts; the fault was ours, not the submission's.",
                "finished_at": timezone.now(),
            }
            ended = Run.objects.filter(pk=self.pk, status__in=Run.ACTIVE).update(**fields)
            self.refresh_from_db()
            if ended:
                self.ended()
            return "ended"
        Run.objects.filter(pk=self.pk).update(
            status=Run.Status.QUEUED,
            stage="retrying",
            message=f"{message} Retrying as attempt {number + 1} of {settings.RUNNER_MAX_ATTEMPTS}.",
        )
        self.start_attempt(number + 1)
        self.refresh_from_db()
        return "retried"

    def ended(self) -> None:
        """Called once, by the conditional update that ended the run, inside its transaction: tell
        the owner, then each of settings.RUN_ENDED_HANDLERS (dotted paths of functions taking the
        run). Apps above portfolio (assessments: a regraded gate's evidence) learn of a verdict this
        way without portfolio importing them."""
        self.notify_owner()
        for handler in _run_ended_handlers(tuple(settings.RUN_ENDED_HANDLERS)):
            handler(self)

    def notify_owner(self) -> None:
        """Tell the artifact's owner that the run ended. Called only by the conditional update that
        ended it, so once per run however often a result is delivered; a cancel, which the owner did
        themselves, tells nobody."""
        if self.status == Run.Status.CANCELLED or self.is_active:
            return
        artifact = self.version.artifact
        passed = self.status == Run.Status.SUCCEEDED
        outcome = {
            Run.Status.SUCCEEDED: "passed",
            Run.Status.FAILED: "failed",
            Run.Status.TIMED_OUT: "timed out",
            Run.Status.ERROR: "could not be graded (our fault)",
            Run.Status.LOST: "was lost (our fault)",
        }.get(Run.Status(self.status), self.status)
        Notification.notify(
            artifact.owner,
            Notification.Kind.RUN_FINISHED if passed else Notification.Kind.RUN_FAILED,
            f"Run #{self.pk} of {artifact.title} {outcome}",
            url=self.get_absolute_url(),
            body=self.message[:1000],
        )

    def cancel(self, *, by: User) -> bool:
        """Stop a queued or running run. Its attempt's result, if one still comes, is discarded."""
        now = timezone.now()
        with transaction.atomic():
            ended = Run.objects.filter(pk=self.pk, status__in=Run.ACTIVE).update(
                status=Run.Status.CANCELLED,
                stage="cancelled",
                message=f"Cancelled by {by}.",
                finished_at=now,
            )
            if not ended:
                return False
            attempts = RunAttempt.objects.filter(run=self, status__in=RunAttempt.ACTIVE)
            task_ids = list(attempts.values_list("celery_task_id", flat=True))
            attempts.update(status=RunAttempt.Status.CANCELLED, finished_at=now)
            transaction.on_commit(lambda: _revoke(task_ids), robust=True)
        self.refresh_from_db()
        return True

    def rerun(self, *, by: User) -> Run:
        """A new run of the same version (with the grader configured now); this one is kept."""
        if self.is_active:
            raise RunRefused("This run has not finished yet; cancel it first or wait for it.")
        return self.version.request_run(by=by)


class RunAttemptQuerySet(models.QuerySet["RunAttempt"]):
    def active(self) -> RunAttemptQuerySet:
        return self.filter(status__in=RunAttempt.ACTIVE)

    def stale(self, *, seconds: int) -> RunAttemptQuerySet:
        """Running attempts whose last heartbeat is older than `seconds`."""
        cutoff = timezone.now() - timezone.timedelta(seconds=seconds)
        return self.filter(status=RunAttempt.Status.RUNNING, heartbeat_at__lt=cutoff)

    def unstarted(self, *, seconds: int) -> RunAttemptQuerySet:
        """Queued attempts the broker took over `seconds` ago that no runner has reported on yet."""
        cutoff = timezone.now() - timezone.timedelta(seconds=seconds)
        return self.filter(status=RunAttempt.Status.QUEUED, dispatched_at__lt=cutoff)

    def undispatched(self, *, grace_s: int) -> RunAttemptQuerySet:
        """Queued attempts the runner queue never took (the send failed, or never happened because
        the process died between the commit and its on-commit send), created over `grace_s` ago."""
        cutoff = timezone.now() - timezone.timedelta(seconds=grace_s)
        return self.filter(status=RunAttempt.Status.QUEUED, dispatched_at__isnull=True, created_at__lt=cutoff)


class RunAttempt(models.Model):
    """One try at a run on a runner. Its id is the identity the runner reports against."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        ERROR = "error", "System error"
        LOST = "lost", "Lost"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    celery_task_id = models.CharField(max_length=64, unique=True, default=uuid.uuid4)
    worker = models.CharField(max_length=200, blank=True)
    stage = models.CharField(max_length=64, blank=True)
    stages = models.JSONField(default=list, blank=True, help_text="[{stage, at, detail}] as reported.")
    outcome = models.CharField(max_length=32, blank=True)
    verdict = models.CharField(max_length=32, blank=True)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(
        null=True, blank=True, help_text="When the broker accepted the job; empty until then."
    )
    dispatch_tries = models.PositiveSmallIntegerField(default=0)
    dispatch_error = models.TextField(blank=True, help_text="Why the last send to the runner queue failed.")

    objects = RunAttemptQuerySet.as_manager()

    class Meta:
        ordering = ["run_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["run", "number"], name="attempt_number_unique_in_run"),
            models.UniqueConstraint(
                fields=["run"],
                condition=Q(status__in=["queued", "running"]),
                name="one_active_attempt_per_run",
            ),
            models.CheckConstraint(
                condition=Q(number__gte=1) & Q(number__lte=protocol.MAX_ATTEMPTS),
                name="attempt_number_1_to_max",
            ),
        ]
        # The reaper looks only at active attempts, a sliver of the table, every 30 s.
        indexes = [
            models.Index(
                fields=["status", "created_at"],
                condition=Q(status__in=["queued", "running"]),
                name="attempt_active",
            )
        ]

    def __str__(self) -> str:
        return f"Attempt {self.number} of run {self.run_id}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    def _ranked(self) -> list[tuple[str, dict[str, Any]]]:
        """(label, detail) of each reported stage in the runner's order. Messages can arrive swapped
        (two sending threads; the filesystem broker orders them by name): the runner numbers each
        one (`seq`), and reports without numbers fall back to the order every job goes through."""
        numbered = all(isinstance(entry.get("detail", {}).get("seq"), int) for entry in self.stages)
        ranked = []
        for i, entry in enumerate(self.stages):
            stage, detail = entry.get("stage", ""), entry.get("detail", {})
            label = stage
            if stage == "step" and detail.get("step"):
                label = f"{detail['step']} {detail.get('status', '')}".strip()
            rank = (
                detail["seq"] if numbered else _STAGE_RANK.get(stage, 4.5 if detail.get("status") == "started" else 5)
            )
            ranked.append((rank, i, label, detail))
        return [(label, detail) for _, _, label, detail in sorted(ranked, key=lambda r: (r[0], r[1]))]

    def timeline(self) -> list[str]:
        """The reported stages' names in the runner's order, repeats dropped."""
        return _deduplicated([label for label, _ in self._ranked()])

    def timeline_words(self) -> list[str]:
        """The same in words a learner reads (stage_words): what the run page lists."""
        return _deduplicated([stage_words(label, detail) for label, detail in self._ranked()])

    def progress_words(self) -> str:
        """What the runner is doing now, in words a learner reads ("calling your calculator on 22 cases")."""
        ranked = self._ranked()
        return stage_words(*ranked[-1]) if ranked else "waiting for a runner"

    def payload(self) -> dict[str, Any]:
        run = self.run
        version = run.version
        return protocol.make_payload(
            attempt_id=self.pk,
            run_id=run.pk,
            attempt=self.number,
            grader=run.grader,
            grader_version=run.grader_version,
            filename=version.original_filename,
            data=version.read_bytes(),
            params=run.params,
            limits=run.limits,
        )

    def send(self) -> bool:
        """Hand this attempt to the runner queue; False when that failed. Called on commit, so the
        runner's first report never races the rows it refers to; the task id is the attempt's, so
        a resend is visible.

        A failure (the broker is down, the version's file cannot be read) is recorded on the row
        instead of raised: the attempt stays queued and the reaper sends it again (redispatch)."""
        try:
            current_app.send_task(
                protocol.TASK_EXECUTE,
                args=[self.payload()],
                queue=protocol.QUEUE_RUNNER,
                task_id=str(self.celery_task_id),
            )
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:1000]
            log.warning("attempt %s could not be sent to the runner queue: %s", self.pk, error)
            RunAttempt.objects.filter(pk=self.pk).update(dispatch_tries=F("dispatch_tries") + 1, dispatch_error=error)
            return False
        RunAttempt.objects.filter(pk=self.pk).update(
            dispatched_at=timezone.now(), dispatch_tries=F("dispatch_tries") + 1, dispatch_error=""
        )
        return True

    def redispatch(self) -> str:
        """The reaper's turn for an attempt that never reached a runner: send it again ("sent" or
        "failed"), or, after RUNNER_MAX_DISPATCH_TRIES sends, close it as our error and move the
        run to its next attempt ("retried") or end it `error` ("ended")."""
        if self.dispatch_tries < settings.RUNNER_MAX_DISPATCH_TRIES:
            return "sent" if self.send() else "failed"
        return self.run.record_undeliverable(self.pk)

    def record_progress(self, data: Mapping[str, Any]) -> bool:
        """A progress report or heartbeat from the runner. The first one marks the attempt (and
        its run) running; none has any effect once the attempt has ended."""
        now = timezone.now()
        stage = str(data.get("stage", ""))[:64]
        if data.get("heartbeat"):
            return bool(
                RunAttempt.objects.filter(pk=self.pk, status=RunAttempt.Status.RUNNING).update(heartbeat_at=now)
            ) or self._begin(now, stage)
        with transaction.atomic():
            attempt = RunAttempt.objects.select_for_update().filter(pk=self.pk, status__in=self.ACTIVE).first()
            if attempt is None:
                return False
            entry = {"stage": stage, "at": now.isoformat(), "detail": _small(data)}
            stages = [*attempt.stages, entry][-50:]
            RunAttempt.objects.filter(pk=self.pk, status__in=self.ACTIVE).update(
                stage=stage, stages=stages, heartbeat_at=now
            )
            self._begin(now, stage)
            Run.objects.filter(pk=attempt.run_id, current_attempt_id=self.pk, status=Run.Status.RUNNING).update(
                stage=stage
            )
        return True

    def _begin(self, now: Any, stage: str) -> bool:
        started = RunAttempt.objects.filter(pk=self.pk, status=RunAttempt.Status.QUEUED).update(
            status=RunAttempt.Status.RUNNING, started_at=now, heartbeat_at=now, stage=stage
        )
        if started:
            Run.objects.filter(pk=self.run_id, current_attempt_id=self.pk, status=Run.Status.QUEUED).update(
                status=Run.Status.RUNNING, stage=stage or "running", started_at=now
            )
        return bool(started)


def reap_stale_attempts(*, seconds: int | None = None) -> list[tuple[int, str]]:
    """Close running attempts whose heartbeat stopped; returns (attempt id, what happened)."""
    timeout = settings.RUNNER_HEARTBEAT_TIMEOUT_S if seconds is None else seconds
    reaped = []
    for attempt in RunAttempt.objects.stale(seconds=timeout).select_related("run"):
        reaped.append((attempt.pk, attempt.run.record_lost(attempt.pk)))
    return reaped


def redispatch_attempts(*, grace_s: int | None = None, unstarted_s: int | None = None) -> list[tuple[int, str]]:
    """Send again the queued attempts that never reached a runner; returns (attempt id, what
    happened). Oldest first, a bounded batch per call: the next reap takes the rest.

    Two kinds: attempts whose send failed or never happened (after RUNNER_DISPATCH_GRACE_S), and
    attempts the broker took but whose message is gone: still unstarted RUNNER_UNSTARTED_RESEND_S
    after the send while the runner queue is empty (a Redis restart without persistence, a
    runner killed between taking a message and its first report). An empty queue means no runner
    has the message waiting; a runner that took it a moment ago and has not reported yet would
    run it twice, and the second result is discarded, like any duplicate."""
    grace = settings.RUNNER_DISPATCH_GRACE_S if grace_s is None else grace_s
    unstarted_after = settings.RUNNER_UNSTARTED_RESEND_S if unstarted_s is None else unstarted_s
    never_sent = RunAttempt.objects.undispatched(grace_s=grace).select_related("run").order_by("created_at")[:100]
    done = [(attempt.pk, attempt.redispatch()) for attempt in never_sent]
    lost = RunAttempt.objects.unstarted(seconds=unstarted_after).select_related("run").order_by("dispatched_at")[:100]
    if lost and runner_queue_length() == 0:
        done += [(attempt.pk, attempt.redispatch()) for attempt in lost]
    return done


def runner_queue_length() -> int | None:
    """Messages waiting in the runner queue, or None when the broker cannot be asked."""
    try:
        with current_app.connection_for_write() as conn:
            return int(conn.default_channel.queue_declare(queue=protocol.QUEUE_RUNNER, passive=True).message_count)
    except ChannelError:
        return 0  # Redis keeps no empty lists: a queue that does not exist has nothing waiting
    except Exception:
        log.warning("could not ask the broker how many jobs wait for a runner", exc_info=True)
        return None


# --- helpers ---------------------------------------------------------------------------------


@cache
def _run_ended_handlers(paths: tuple[str, ...]) -> tuple[Callable[[Run], object], ...]:
    # Keyed by the paths, so a test that overrides the setting gets its own functions.
    return tuple(import_string(path) for path in paths)


_STAGE_RANK = {"received": 0, "environment": 1, "unpacked": 2, "grading": 3, "finished": 9}

# The runner's stage names (and its steps' "<step> <status>"), in the words the run page shows.
_STAGE_WORDS = {
    "received": "the runner has your file",
    "environment": "preparing the runner",
    "unpacked": "unpacking your file",
    "grading": "grading",
    "learner started": "starting your code in the sandbox",
    "learner ok": "your code answered",
    "truth started": "starting the measurement of the truth",
    "truth ok": "the truth is measured",
    "finished": "finished",
}


def _deduplicated(items: list[str]) -> list[str]:
    return [item for i, item in enumerate(items) if i == 0 or items[i - 1] != item]


def stage_words(label: str, detail: Mapping[str, Any]) -> str:
    """One reported stage in words; counts from the detail where the runner sends them."""
    total, done = detail.get("total"), detail.get("done")
    progress = f" ({done} done)" if isinstance(done, int) and isinstance(total, int) else ""
    if label == "call" and isinstance(total, int):
        return f"calling your calculator on {total} cases{progress}"
    if label == "measure" and isinstance(total, int):
        return f"measuring the truth: building {total} models and counting their cache{progress}"
    if label == "learner" and isinstance(total, int):
        return f"running your code on {total} cases{progress}"
    if label == "kv" and detail.get("stage_detail"):
        return str(detail["stage_detail"])
    return _STAGE_WORDS.get(label, label.replace("_", " "))


_RESULT_STATUS = {
    protocol.OUTCOME_SUBMISSION_FAILED: Run.Status.FAILED,
    protocol.OUTCOME_TIMED_OUT: Run.Status.TIMED_OUT,
}


def _status_for(result: Mapping[str, Any]) -> str:
    if result["outcome"] == protocol.OUTCOME_COMPLETED:
        return Run.Status.SUCCEEDED if result["verdict"] == protocol.VERDICT_PASSED else Run.Status.FAILED
    return _RESULT_STATUS[result["outcome"]]


def _checked_result(attempt_id: int, run_id: int, result: object) -> dict[str, Any]:
    """A result that breaks the contract is our fault (a runner bug): file it as a system error."""
    try:
        checked = protocol.validate_result(result)
        if checked["attempt_id"] != attempt_id:
            raise protocol.ResultError("attempt_id", f"is {checked['attempt_id']}, not {attempt_id}")
    except protocol.ResultError as exc:
        log.error("malformed result for attempt %s: %s", attempt_id, exc)
        return protocol.system_error(
            message=f"The runner sent a malformed result ({exc}).",
            attempt_id=attempt_id,
            run_id=run_id,
            sandboxed=False,
        )
    return checked


def _small(data: Mapping[str, Any]) -> dict[str, Any]:
    """Keep progress details short and flat: they are shown, never computed with."""
    kept: dict[str, Any] = {}
    for key, value in list(data.items())[:12]:
        if key in ("stage", "heartbeat"):
            continue
        if isinstance(value, str | int | float | bool) or value is None:
            kept[str(key)[:40]] = value if not isinstance(value, str) else value[:200]
    return kept


def _revoke(task_ids: Iterable[str]) -> None:
    for task_id in task_ids:
        current_app.control.revoke(task_id)
