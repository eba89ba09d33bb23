"""Artifacts, versions, results and runs over the API (token auth; other people's things are 404)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from accounts.api import TokenAuth
from portfolio import results
from portfolio.models import RUN_SUBMISSIONS, Artifact, ArtifactVersion, ResultUpload, Run
from portfolio.uploads import UploadRefused, inspect_link, read_uploaded
from roadmap.models import ArtifactSpec, Topic

router = Router(tags=["artifacts and runs"], auth=TokenAuth())


class FieldError(Schema):
    field: str
    message: str


class ErrorOut(Schema):
    message: str
    errors: list[FieldError] = []


class ArtifactIn(Schema):
    spec: str | None = None
    roadmap: str | None = None
    title: str | None = None
    notes: str = ""
    topics: list[str] = []


class ArtifactOut(Schema):
    id: int
    title: str
    spec: str | None
    roadmap: str | None
    notes: str
    topics: list[str]
    url: str
    created_at: datetime


class RunSummaryOut(Schema):
    id: int
    status: str
    url: str


class VersionOut(Schema):
    artifact: int
    number: int
    kind: str
    filename: str
    link: str
    size: int
    sha256: str
    created_at: datetime
    run: RunSummaryOut | None
    run_refused: str


class ResultsIn(Schema):
    document: Any
    version: int | None = None
    notes: str = ""


class ResultOut(Schema):
    id: int
    artifact: int
    version: int | None
    schema_name: str
    schema_version: str
    sha256: str
    self_reported: bool = True
    validation: dict[str, Any]
    recomputation: dict[str, Any]
    url: str


class RunOut(Schema):
    id: int
    artifact: int
    version: int
    sha256: str
    grader: str
    grader_version: str
    status: str
    stage: str
    attempt: int
    verdict: str
    score: float | None
    max_score: float | None
    message: str
    tests: list[dict[str, Any]]
    metrics: dict[str, Any]
    environment: dict[str, Any]
    sandboxed: bool | None
    log_tail: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    url: str


def _absolute(request: HttpRequest, path: str) -> str:
    return request.build_absolute_uri(path)


def _artifact_out(request: HttpRequest, artifact: Artifact) -> ArtifactOut:
    return ArtifactOut(
        id=artifact.pk,
        title=artifact.title,
        spec=artifact.spec.code if artifact.spec else None,
        roadmap=artifact.spec.roadmap.slug if artifact.spec else None,
        notes=artifact.notes,
        topics=[t.slug for t in artifact.topics.all()],
        url=_absolute(request, artifact.get_absolute_url()),
        created_at=artifact.created_at,
    )


def _run_summary(request: HttpRequest, run: Run | None) -> RunSummaryOut | None:
    if run is None:
        return None
    return RunSummaryOut(id=run.pk, status=run.status, url=_absolute(request, run.get_absolute_url()))


def _error(field: str, message: str) -> Status[ErrorOut]:
    return Status(422, ErrorOut(message=f"{field}: {message}", errors=[FieldError(field=field, message=message)]))


@router.post("/artifacts", response={201: ArtifactOut, 422: ErrorOut}, summary="Create an artifact")
def create_artifact(request: HttpRequest, payload: ArtifactIn) -> Status[Any]:
    """For a spec code such as "09" (give `roadmap` when several roadmaps have that code), or
    free-form with no spec (then `title` is required). Topics are slugs of the spec's roadmap."""
    spec = None
    if payload.spec:
        specs = ArtifactSpec.objects.current().select_related("roadmap").filter(code=payload.spec)
        if payload.roadmap:
            specs = specs.filter(roadmap__slug=payload.roadmap)
        found = list(specs[:2])
        if not found:
            return _error(
                "spec", f"no artifact spec {payload.spec!r}{' in ' + payload.roadmap if payload.roadmap else ''}"
            )
        if len(found) > 1:
            return _error("roadmap", f"spec {payload.spec!r} exists in several roadmaps; name one")
        spec = found[0]
    title = (payload.title or (spec.title if spec else "")).strip()
    if not title:
        return _error("title", "is required for a free-form artifact")
    topics = Topic.objects.current().filter(slug__in=payload.topics)
    if spec:
        topics = topics.filter(roadmap=spec.roadmap)
    unknown = sorted(set(payload.topics) - set(topics.values_list("slug", flat=True)))
    if unknown:
        return _error("topics", f"unknown topic slugs: {', '.join(unknown)}")
    artifact = Artifact.objects.create(owner=request.user, spec=spec, title=title[:200], notes=payload.notes)
    artifact.topics.set(topics)
    return Status(201, _artifact_out(request, artifact))


@router.post(
    "/artifacts/{artifact_id}/versions",
    response={201: VersionOut, 422: ErrorOut, 429: ErrorOut},
    summary="Upload a version (multipart `file`, or `link`)",
)
def create_version(
    request: HttpRequest,
    response: HttpResponse,
    artifact_id: int,
    file: File[UploadedFile | None] = None,
    link: Form[str] = "",
    notes: Form[str] = "",
) -> Status[Any]:
    """Returns the new version with its sha256 and, for a runnable spec, the run it started (or
    `run_refused` saying why none was started: a link, or too many runs waiting). 429 with
    `Retry-After` when you started too many runs lately: then nothing is stored, send it again
    later."""
    artifact = get_object_or_404(Artifact.objects.of(request.user).select_related("spec"), pk=artifact_id)
    if file and artifact.is_runnable and (limit := RUN_SUBMISSIONS.peek(request.user.pk)).blocked:
        response["Retry-After"] = str(limit.retry_after)
        message = (
            f"Too many runs: you have started {limit.limit} in the last {limit.period_text}, the most allowed. "
            f"Nothing was stored; send this version again {limit.retry_after_text}."
        )
        return Status(429, ErrorOut(message=message))
    if bool(file) == bool(link):
        return _error("file", "send either a multipart `file` or a `link`, not both or neither")
    try:
        upload = read_uploaded(file) if file else inspect_link(link)
        artifact.check_upload(upload)
    except UploadRefused as exc:
        return _error("file" if file else "link", exc.message)
    new = artifact.add_version(upload, notes=notes, by=request.user)
    version = new.version
    return Status(
        201,
        VersionOut(
            artifact=artifact.pk,
            number=version.number,
            kind=version.kind,
            filename=version.original_filename,
            link=version.url,
            size=version.size,
            sha256=version.sha256,
            created_at=version.created_at,
            run=_run_summary(request, new.run),
            run_refused=new.run_refused,
        ),
    )


@router.post(
    "/artifacts/{artifact_id}/results",
    response={201: ResultOut, 422: ErrorOut},
    summary="Upload a results document (self-reported)",
)
def create_results(request: HttpRequest, artifact_id: int, payload: ResultsIn) -> Status[Any]:
    """`document` must follow the artifact's results schema (GET /api/v1/schemas/results/{name});
    refusals list every problem with its field path, and missing workload fields are named."""
    artifact = get_object_or_404(Artifact.objects.of(request.user).select_related("spec"), pk=artifact_id)
    version = None
    if payload.version is not None:
        version = ArtifactVersion.objects.filter(artifact=artifact, number=payload.version).first()
        if version is None:
            return _error("version", f"this artifact has no version {payload.version}")
    try:
        upload = artifact.add_results(payload.document, version=version, notes=payload.notes)
    except results.ResultsInvalid as exc:
        errors = [FieldError(field=f"document.{e['path']}".rstrip("."), message=e["message"]) for e in exc.errors]
        return Status(422, ErrorOut(message=exc.message, errors=errors))
    return Status(201, _result_out(request, upload))


def _result_out(request: HttpRequest, upload: ResultUpload) -> ResultOut:
    return ResultOut(
        id=upload.pk,
        artifact=upload.artifact_id,
        version=upload.version.number if upload.version else None,
        schema_name=upload.schema,
        schema_version=upload.schema_version,
        sha256=upload.sha256,
        validation=upload.validation,
        recomputation=upload.recomputation,
        url=_absolute(request, upload.get_absolute_url()),
    )


@router.get("/runs/{run_id}", response=RunOut, summary="A run: status, verdict, tests, metrics, environment")
def get_run(request: HttpRequest, run_id: int) -> RunOut:
    run = get_object_or_404(
        Run.objects.visible_to(request.user).select_related("version", "current_attempt"), pk=run_id
    )
    return RunOut(
        id=run.pk,
        artifact=run.version.artifact_id,
        version=run.version.number,
        sha256=run.version.sha256,
        grader=run.grader,
        grader_version=run.grader_version,
        status=run.status,
        stage=run.stage,
        attempt=run.attempt_number,
        verdict=run.verdict,
        score=run.score,
        max_score=run.max_score,
        message=run.message,
        tests=run.visible_tests(),
        metrics=run.metrics,
        environment=run.environment,
        sandboxed=run.sandboxed,
        log_tail=run.log_tail,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        url=_absolute(request, run.get_absolute_url()),
    )


schemas_router = Router(tags=["results schemas"])


@schemas_router.get("/results", auth=None, summary="List the published results schemas")
def list_results_schemas(request: HttpRequest) -> list[dict[str, str]]:
    return [{"name": s.name, "title": s.title, "version": s.version} for s in results.SCHEMAS.values()]


@schemas_router.get("/results/{name}", auth=None, url_name="results-schema", summary="A results schema (JSON Schema)")
def get_results_schema(request: HttpRequest, name: str) -> dict[str, Any]:
    schema = results.SCHEMAS.get(name)
    if schema is None:
        raise Http404(f"No results schema {name!r}; known: {', '.join(results.SCHEMAS)}.")
    return schema.published()
