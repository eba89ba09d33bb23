"""Test data. Every argument is optional and keyword-only; the defaults are valid."""

from __future__ import annotations

from itertools import count
from typing import Any

from django.conf import settings
from django.utils import timezone

from accounts.models import ApiToken, Membership, Notification, Team, TeamInvite, User
from assessments.models import GateRequest, PersonalLink, SelfAssessment, TopicNote, TopicProgress
from portfolio.models import Artifact, ArtifactVersion, Run
from portfolio.runner import protocol
from portfolio.uploads import inspect_file, inspect_link
from roadmap.content import load
from roadmap.models import (
    ArtifactSpec,
    CompetencyLevel,
    EvaluationGate,
    Layer,
    LearningPath,
    PathStep,
    Roadmap,
    Topic,
)

_n = count(1)


def create_user(*, username: str | None = None, password: str = "password", **fields: Any) -> User:
    """A user; one with an email has confirmed it, unless email_verified_at=None says otherwise."""
    if fields.get("email"):
        fields.setdefault("email_verified_at", timezone.now())
    return User.objects.create_user(username=username or f"user{next(_n)}", password=password, **fields)


def create_team(*, name: str | None = None, members: dict[User, str] | None = None, **fields: Any) -> Team:
    n = next(_n)
    team = Team.objects.create(name=name or f"Team {n}", slug=f"team-{n}", **fields)
    for user, role in (members or {}).items():
        team.add_member(user, role)
    return team


def create_roadmap(*, slug: str | None = None, **fields: Any) -> Roadmap:
    n = next(_n)
    fields.setdefault("title", f"Roadmap {n}")
    fields.setdefault("summary", "A roadmap for tests.")
    return Roadmap.objects.create(slug=slug or f"roadmap-{n}", **fields)


def create_layer(*, roadmap: Roadmap | None = None, number: int | None = None, **fields: Any) -> Layer:
    n = next(_n)
    roadmap = roadmap or create_roadmap()
    number = number if number is not None else n
    fields.setdefault("title", f"Layer {n}")
    fields.setdefault("code", str(number))
    fields.setdefault("slug", f"layer-{n}")
    fields.setdefault("core_question", "What happens?")
    return Layer.objects.create(roadmap=roadmap, number=number, **fields)


def create_topic(*, layer: Layer | None = None, prerequisites: tuple[Topic, ...] = (), **fields: Any) -> Topic:
    n = next(_n)
    layer = layer or create_layer()
    fields.setdefault("title", f"Topic {n}")
    fields.setdefault("slug", f"topic-{n}")
    fields.setdefault("summary", "A topic for tests.")
    fields.setdefault("order", n)
    topic = Topic.objects.create(roadmap=layer.roadmap, layer=layer, **fields)
    topic.prerequisites.set(prerequisites)
    return topic


def create_level(*, roadmap: Roadmap | None = None, number: int = 1, **fields: Any) -> CompetencyLevel:
    fields.setdefault("title", f"Level {number}")
    return CompetencyLevel.objects.create(roadmap=roadmap or create_roadmap(), number=number, **fields)


def create_artifact_spec(
    *,
    roadmap: Roadmap | None = None,
    kind: str = ArtifactSpec.Kind.DOCUMENT,
    code: str | None = None,
    **fields: Any,
) -> ArtifactSpec:
    n = next(_n)
    fields.setdefault("title", f"Artifact {n}")
    fields.setdefault("purpose", "Prove something.")
    return ArtifactSpec.objects.create(
        roadmap=roadmap or create_roadmap(),
        code=code or f"{n % 100:02d}",
        slug=f"artifact-{n}",
        kind=kind,
        **fields,
    )


def create_gate(
    *,
    layer: Layer | None = None,
    level: CompetencyLevel | None = None,
    artifacts: tuple[ArtifactSpec, ...] = (),
    **fields: Any,
) -> EvaluationGate:
    fields.setdefault("statement", "Show that you can.")
    fields.setdefault("criteria", ["explains the mechanism", "measured it"])
    gate = EvaluationGate.objects.create(layer=layer or create_layer(), level=level, **fields)
    gate.required_artifacts.set(artifacts)
    return gate


def add_member(team: Team, user: User, role: str = Membership.Role.MEMBER) -> Membership:
    return team.add_member(user, role)


def load_real_content() -> None:
    """Load fixtures/roadmaps into the test database (inside the caller's transaction)."""
    load(settings.CONTENT_DIR)


def create_path(*, roadmap: Roadmap | None = None, topics: tuple[Topic, ...] = (), **fields: Any) -> LearningPath:
    n = next(_n)
    roadmap = roadmap or (topics[0].roadmap if topics else create_roadmap())
    fields.setdefault("title", f"Path {n}")
    fields.setdefault("order", n)
    path = LearningPath.objects.create(roadmap=roadmap, slug=fields.pop("slug", f"path-{n}"), **fields)
    PathStep.objects.bulk_create(PathStep(path=path, topic=t, order=i) for i, t in enumerate(topics, start=1))
    return path


def create_progress(
    *,
    user: User | None = None,
    topic: Topic | None = None,
    status: str = "done",
    confidence: int | None = None,
) -> TopicProgress:
    """Through the model's own verb, so the activity log gets its row too."""
    return TopicProgress.mark(user or create_user(), topic or create_topic(), status=status, confidence=confidence)


def create_assessment(
    *, user: User | None = None, layer: Layer | None = None, level: int = 2, justification: str = "Built it."
) -> SelfAssessment:
    row = SelfAssessment.record(
        user or create_user(), layer or create_layer(), level=level, justification=justification
    )
    assert row is not None
    return row


def create_note(*, user: User | None = None, topic: Topic | None = None, body: str = "My *notes*.") -> TopicNote:
    return TopicNote.write(user or create_user(), topic or create_topic(), body)


def create_link(
    *, user: User | None = None, topic: Topic | None = None, url: str = "https://example.com/a", title: str = ""
) -> PersonalLink:
    return PersonalLink.add(user or create_user(), topic or create_topic(), url=url, title=title)


def create_artifact(
    *, owner: User | None = None, spec: ArtifactSpec | None = None, title: str | None = None, **fields: Any
) -> Artifact:
    return Artifact.objects.create(
        owner=owner or create_user(), spec=spec, title=title or f"Artifact {next(_n)}", **fields
    )


def create_runnable_artifact(*, owner: User | None = None, kind: str = ArtifactSpec.Kind.KV_CALCULATOR) -> Artifact:
    return create_artifact(owner=owner, spec=create_artifact_spec(kind=kind))


OK_SCRIPT = b'import json\nprint(json.dumps({"ok": True, "answer": 42}))\n'


def create_version(
    *,
    artifact: Artifact | None = None,
    data: bytes = OK_SCRIPT,
    filename: str = "main.py",
    link: str = "",
    notes: str = "",
) -> ArtifactVersion:
    """A version without a run, even of a runnable spec: tests choose when runs exist (create_run)."""
    artifact = artifact or create_artifact()
    upload = inspect_link(link) if link else inspect_file(filename, data)
    return artifact.add_version(upload, notes=notes, by=artifact.owner, run=False).version


def create_run(*, version: ArtifactVersion | None = None, by: User | None = None) -> Run:
    """A queued run with its first attempt; the send to the runner is an on-commit callback,
    which Django's TestCase never runs, so no broker is needed."""
    version = version or create_version(artifact=create_runnable_artifact())
    return version.request_run(by=by or version.artifact.owner)


def create_token(*, user: User | None = None) -> tuple[ApiToken, str]:
    return ApiToken.issue(user or create_user(), "test token")


def finish_run(run: Run, *, verdict: str = "passed", sandboxed: bool = True) -> Run:
    """The runner's result for the run's current attempt, filed through the model's own verb."""
    attempt = run.current_attempt
    assert attempt is not None
    result = protocol.build_result(
        attempt_id=attempt.pk,
        run_id=run.pk,
        outcome="completed",
        verdict=verdict,
        message=f"the grader said {verdict}",
        score=1.0 if verdict == "passed" else 0.0,
        max_score=1.0,
        environment={"device": "cpu", "torch": "2.13.0", "transformers": "5.23.0", "hostname": "runner-1"},
        sandboxed=sandboxed,
    )
    run.record_result(attempt.pk, result)
    run.refresh_from_db()
    return run


def create_gate_request(
    *,
    learner: User | None = None,
    gate: EvaluationGate | None = None,
    explanation: str = "I built it and measured it.",
    versions: tuple[ArtifactVersion, ...] = (),
    passing_evidence: bool = False,
    submit: bool = False,
) -> GateRequest:
    """A draft (or, with submit, a submitted request) made through the model's own verbs. With
    `passing_evidence`, each runnable spec the gate requires gets a version of the learner's own
    with a passing sandboxed run on the current grader, pinned: machine evidence approval accepts."""
    learner = learner or create_user()
    request = GateRequest.open(learner, gate or create_gate())
    request.edit(by=learner, explanation=explanation, ticks=range(len(request.checklist)))
    if passing_evidence:
        for spec in request.gate.required_artifacts.all():
            if spec.is_runnable:
                version = create_version(artifact=create_artifact(owner=learner, spec=spec))
                finish_run(create_run(version=version))
                versions = (*versions, version)
    for version in versions:
        request.pin(version, by=learner)
    if submit:
        request.submit(by=learner)
    return request


def create_invite(
    *, team: Team | None = None, role: str = Membership.Role.MEMBER, by: User | None = None, email: str = ""
) -> tuple[TeamInvite, str]:
    """An invitation and its link token (which only the caller ever sees)."""
    team = team or create_team()
    if by is None:
        by = create_user()
        team.add_member(by, Membership.Role.LEAD)
    return TeamInvite.issue(team, role=role, by=by, email=email)


def create_notification(
    *, user: User | None = None, kind: str = Notification.Kind.RUN_FINISHED, title: str = "Run #1 passed", url: str = ""
) -> Notification:
    return Notification.notify(user or create_user(), kind, title, url=url)
