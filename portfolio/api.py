"""Artifacts, versions, results and runs over the API (token auth; other people's things are 404)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Field, File, Form, Path, Query, Router, Schema, Status
from ninja.decorators import decorate_view
from ninja.files import UploadedFile
from pydantic import ConfigDict

from accounts.api import (
    NOT_BLANK,
    ErrorOut,
    FieldError,
    ObjectId,
    PageIn,
    PageOut,
    StrictIn,
    TokenAuth,
    atomic_write,
    choices,
    paginate,
)
from portfolio import results
from portfolio.models import Artifact, ArtifactInvalid, ArtifactVersion, ResultUpload, Run
from portfolio.uploads import UploadRefused

router = Router(tags=["artifacts and runs"], auth=TokenAuth())


class ArtifactIn(StrictIn):
    """A spec code, or a title for a free-form artifact (one with no spec)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"required": ["spec"], "properties": {"spec": {"type": "string"}}},
                {"required": ["title"], "properties": {"title": {"type": "string", "pattern": NOT_BLANK}}},
            ]
        },
    )

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
    status: Annotated[Run.Status, choices(Run.Status)]
    url: str


class VersionOut(Schema):
    artifact: int
    number: int
    kind: Annotated[ArtifactVersion.Kind, choices(ArtifactVersion.Kind)]
    filename: str
    link: str
    size: int
    sha256: str
    created_at: datetime
    run: RunSummaryOut | None
    run_refused: str = Field(
        description="why no run was started (a link, too many runs waiting or started); empty when one was"
    )
    retry_after: int | None = Field(
        description="seconds until you may start a run again, when too many were started lately"
    )


class ResultsIn(StrictIn):
    document: dict[str, Any] = Field(description="an object that follows the artifact's results schema")
    version: ObjectId | None = None
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
    status: Annotated[Run.Status, choices(Run.Status)]
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
    progress: str = Field(
        "", description="what the runner is doing now, in the run page's words; empty once the run has ended"
    )
    timeline: list[str] = Field([], description="the current attempt's reported stages so far, in words, in order")
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


@router.post(
    "/artifacts", response={201: ArtifactOut, 422: ErrorOut}, url_name="artifacts", summary="Create an artifact"
)
@decorate_view(atomic_write)
def create_artifact(request: HttpRequest, payload: ArtifactIn) -> Status[Any]:
    """For a spec code such as "09" (give `roadmap` when several roadmaps have that code), or
    free-form with no spec (then `title` is required). Topics are slugs of the spec's roadmap."""
    try:
        spec = Artifact.spec_for_code(payload.spec, payload.roadmap) if payload.spec else None
        topics = Artifact.topics_named(spec, payload.topics)
        artifact = Artifact.create_for(
            request.user, spec=spec, title=payload.title or "", notes=payload.notes, topics=topics
        )
    except ArtifactInvalid as exc:
        return _error(exc.field, exc.message)
    return Status(201, _artifact_out(request, artifact))


@router.post(
    "/artifacts/{artifact_id}/versions",
    response={201: VersionOut, 422: ErrorOut},
    url_name="artifact-versions",
    summary="Upload a version (multipart `file`, or `link`)",
)
@decorate_view(atomic_write)
def create_version(
    request: HttpRequest,
    response: HttpResponse,
    artifact_id: Path[ObjectId],
    file: File[UploadedFile | None] = None,
    link: Form[str] = "",
    notes: Form[str] = "",
) -> Status[Any]:
    """Returns the new version with its sha256 and, for a runnable spec, the run it started. When
    no run was started, `run` is null and `run_refused` says why (a link; too many runs waiting; too
    many started lately). The version is stored either way, so nothing you uploaded is lost: after
    a rate-limit refusal `retry_after` and the `Retry-After` header say in how many seconds runs may
    start again; then run this version from the artifact's page instead of uploading it again."""
    artifact = get_object_or_404(Artifact.objects.of(request.user).select_related("spec"), pk=artifact_id)
    try:
        upload = artifact.receive(file, link)
    except UploadRefused as exc:
        return _error(exc.field, exc.message)
    new = artifact.add_version(upload, notes=notes, by=request.user)
    if new.retry_after is not None:
        response["Retry-After"] = str(new.retry_after)
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
            retry_after=new.retry_after,
        ),
    )


@router.post(
    "/artifacts/{artifact_id}/results",
    response={201: ResultOut, 422: ErrorOut},
    summary="Upload a results document (self-reported)",
)
@decorate_view(atomic_write)
def create_results(request: HttpRequest, artifact_id: Path[ObjectId], payload: ResultsIn) -> Status[Any]:
    """`document` must follow the artifact's results schema (GET /api/v1/schemas/results/{name});
    refusals list every problem with its field path, and missing workload fields are named."""
    artifact = get_object_or_404(Artifact.objects.of(request.user).select_related("spec"), pk=artifact_id)
    version = None
    if payload.version is not None:
        version = artifact.version_numbered(payload.version)
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
def get_run(request: HttpRequest, run_id: Path[ObjectId]) -> RunOut:
    run = get_object_or_404(
        Run.objects.visible_to(request.user).select_related("version", "current_attempt"), pk=run_id
    )
    attempt = run.current_attempt
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
        progress=attempt.progress_words() if attempt is not None and run.is_active else "",
        timeline=attempt.timeline_words() if attempt is not None else [],
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        url=_absolute(request, run.get_absolute_url()),
    )


# --- lists and details ---------------------------------------------------------------------------
# Lists are yours (`.of`); a detail is what its web page shows you (`.visible_to`: yours, and the
# work of learners in teams you review). Anyone else's is absent from lists and 404 on detail.


class VersionListOut(Schema):
    artifact: int
    number: int
    kind: Annotated[ArtifactVersion.Kind, choices(ArtifactVersion.Kind)]
    filename: str = Field(description="the uploaded file's name; empty for a link")
    link: str = Field(description="the URL of a link version; empty for a file")
    size: int
    sha256: str
    notes: str
    created_at: datetime
    download_url: str | None = Field(description="the file's bytes (same scoping); null for a link")
    run: RunSummaryOut | None = Field(description="the version's newest run; null when it never ran")


class ArtifactDetailOut(ArtifactOut):
    versions: list[VersionListOut] = Field(description="newest first")
    latest_run: RunSummaryOut | None = Field(description="the newest run of any of its versions")


class RunListOut(Schema):
    id: int
    artifact: int
    version: int
    grader: str
    status: Annotated[Run.Status, choices(Run.Status)]
    stage: str
    verdict: str
    score: float | None
    max_score: float | None
    created_at: datetime
    finished_at: datetime | None
    url: str


class ArtifactPage(PageOut):
    items: list[ArtifactOut]


class VersionPage(PageOut):
    items: list[VersionListOut]


class RunPage(PageOut):
    items: list[RunListOut]


class ResultPage(PageOut):
    items: list[ResultOut]


class ArtifactFilter(PageIn):
    spec: str | None = Field(None, description='only artifacts of this spec code, such as "09"', examples=["09"])


class RunFilter(PageIn):
    artifact: ObjectId | None = Field(None, description="only runs of this artifact's versions")
    status: Annotated[Run.Status, choices(Run.Status)] | None = Field(None, description="only runs in this status")


class ResultFilter(PageIn):
    artifact: ObjectId | None = Field(None, description="only results uploaded to this artifact")


def _version_list_out(request: HttpRequest, version: ArtifactVersion) -> VersionListOut:
    runs = list(version.runs.all())  # prefetched, newest first (Run.Meta.ordering)
    return VersionListOut(
        artifact=version.artifact_id,
        number=version.number,
        kind=version.kind,
        filename=version.original_filename,
        link=version.url,
        size=version.size,
        sha256=version.sha256,
        notes=version.notes,
        created_at=version.created_at,
        download_url=None if version.is_link else _absolute(request, version.get_download_url()),
        run=_run_summary(request, runs[0] if runs else None),
    )


def _run_list_out(request: HttpRequest, run: Run) -> RunListOut:
    return RunListOut(
        id=run.pk,
        artifact=run.version.artifact_id,
        version=run.version.number,
        grader=run.grader,
        status=run.status,
        stage=run.stage,
        verdict=run.verdict,
        score=run.score,
        max_score=run.max_score,
        created_at=run.created_at,
        finished_at=run.finished_at,
        url=_absolute(request, run.get_absolute_url()),
    )


def _versions(artifact_id: int, user: Any) -> Any:
    return (
        ArtifactVersion.objects.visible_to(user)
        .filter(artifact_id=artifact_id)
        .order_by("-number")
        .prefetch_related("runs")
    )


@router.get(
    "/artifacts", response=ArtifactPage, url_name="artifacts", summary="Your artifacts, most recently changed first"
)
def list_artifacts(request: HttpRequest, filters: Query[ArtifactFilter]) -> dict[str, Any]:
    rows = Artifact.objects.of(request.user).select_related("spec__roadmap").prefetch_related("topics")
    if filters.spec is not None:
        rows = rows.filter(spec__code=filters.spec)
    return paginate(request, rows, filters, lambda a: _artifact_out(request, a))


@router.get(
    "/artifacts/{artifact_id}",
    response=ArtifactDetailOut,
    summary="An artifact with its versions and its newest run",
)
def get_artifact(request: HttpRequest, artifact_id: Path[ObjectId]) -> ArtifactDetailOut:
    """Yours, or a learner's of a team you review (404 otherwise)."""
    artifact = get_object_or_404(
        Artifact.objects.visible_to(request.user).select_related("spec__roadmap").prefetch_related("topics"),
        pk=artifact_id,
    )
    latest = Run.objects.visible_to(request.user).filter(version__artifact=artifact).first()
    return ArtifactDetailOut(
        **_artifact_out(request, artifact).model_dump(),
        versions=[_version_list_out(request, v) for v in _versions(artifact.pk, request.user)],
        latest_run=_run_summary(request, latest),
    )


@router.get(
    "/artifacts/{artifact_id}/versions",
    response=VersionPage,
    url_name="artifact-versions",
    summary="An artifact's versions, newest first, each with its newest run",
)
def list_versions(request: HttpRequest, artifact_id: Path[ObjectId], params: Query[PageIn]) -> dict[str, Any]:
    artifact = get_object_or_404(Artifact.objects.visible_to(request.user), pk=artifact_id)
    return paginate(request, _versions(artifact.pk, request.user), params, lambda v: _version_list_out(request, v))


@router.get("/runs", response=RunPage, summary="Your runs, newest first")
def list_runs(request: HttpRequest, filters: Query[RunFilter]) -> dict[str, Any]:
    rows = Run.objects.of(request.user).select_related("version")
    if filters.artifact is not None:
        rows = rows.filter(version__artifact_id=filters.artifact)
    if filters.status is not None:
        rows = rows.filter(status=filters.status)
    return paginate(request, rows, filters, lambda r: _run_list_out(request, r))


@router.get("/results", response=ResultPage, summary="Your results uploads, newest first")
def list_results(request: HttpRequest, filters: Query[ResultFilter]) -> dict[str, Any]:
    rows = ResultUpload.objects.of(request.user).select_related("version")
    if filters.artifact is not None:
        rows = rows.filter(artifact_id=filters.artifact)
    return paginate(request, rows, filters, lambda u: _result_out(request, u))


@router.get("/results/{result_id}", response=ResultOut, summary="A results upload with its checks")
def get_result(request: HttpRequest, result_id: Path[ObjectId]) -> ResultOut:
    """Yours, or a learner's of a team you review (404 otherwise)."""
    upload = get_object_or_404(ResultUpload.objects.visible_to(request.user).select_related("version"), pk=result_id)
    return _result_out(request, upload)


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
