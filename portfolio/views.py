"""Pages for a learner's artifacts, versions, results and runs.

Things are looked up through `.visible_to(user)` (read) or `.of(user)` (change), so other
people's artifacts are a 404, never a 403 that would confirm they exist.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.db.models import Count, Prefetch
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.http import Request
from portfolio import bench_refusals, contracts, reports, results, uploads
from portfolio.forms import ArtifactForm, ResultsForm, VersionForm
from portfolio.models import Artifact, ArtifactInvalid, ArtifactVersion, ResultUpload, Run, RunRefused
from roadmap.models import ArtifactSpec


@require_GET
def artifact_list(request: Request) -> HttpResponse:
    artifacts = (
        Artifact.objects.of(request.user)
        .select_related("spec", "spec__roadmap")
        .annotate(version_count=Count("versions", distinct=True))
    )
    runs = Run.objects.of(request.user).select_related("version__artifact")[:10]
    return render(request, "portfolio/artifact_list.html", {"artifacts": artifacts, "runs": runs})


@require_http_methods(["GET", "POST"])
def artifact_create(request: Request) -> HttpResponse:
    spec_id = request.POST.get("spec") or request.GET.get("spec")
    spec = ArtifactSpec.objects.current().filter(pk=spec_id).first() if str(spec_id).isdigit() else None
    form = ArtifactForm(request.POST or None, spec=spec, initial=_initial_for(spec))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            artifact = Artifact.create_for(
                request.user, spec=data["spec"], title=data["title"], notes=data["notes"], topics=data["topics"]
            )
        except ArtifactInvalid as exc:
            form.add_error(exc.field, exc.message)
        else:
            messages.success(request, f"Created “{artifact}”. Upload its first version when it is ready.")
            return redirect(artifact)
    return render(request, "portfolio/artifact_form.html", {"form": form, "spec": spec})


def _initial_for(spec: ArtifactSpec | None) -> dict[str, object]:
    if spec is None:
        return {}
    return {"spec": spec.pk, "title": spec.title, "topics": list(spec.topics.values_list("pk", flat=True))}


@require_GET
def artifact_detail(request: Request, pk: int) -> HttpResponse:
    runs = Prefetch("runs", queryset=Run.objects.select_related("current_attempt"))
    artifact = get_object_or_404(
        Artifact.objects.visible_to(request.user).select_related("spec", "spec__roadmap", "owner"), pk=pk
    )
    context = {
        "artifact": artifact,
        "is_owner": artifact.owner_id == request.user.pk,
        "versions": artifact.versions.prefetch_related(runs),
        "runs": Run.objects.filter(version__artifact=artifact).select_related("version", "current_attempt"),
        "result_uploads": artifact.result_uploads.select_related("version"),
        "topics": artifact.topics.select_related("roadmap"),
    }
    return render(request, "portfolio/artifact_detail.html", context)


@require_http_methods(["GET", "POST"])
def version_create(request: Request, pk: int) -> HttpResponse:
    artifact = get_object_or_404(Artifact.objects.of(request.user).select_related("spec"), pk=pk)
    form = VersionForm(request.POST or None, request.FILES or None, artifact=artifact)
    if request.method == "POST" and form.is_valid():
        new = artifact.add_version(form.upload, notes=form.cleaned_data["notes"], by=request.user)
        messages.success(request, f"Saved version {new.version.number} (sha256 {new.version.sha256[:12]}…).")
        if new.run_refused:
            messages.warning(request, new.run_refused)
        return redirect(new.run or artifact)
    # A refused upload is the client's error (400), shown on the form with the field named.
    context = {"artifact": artifact, "form": form, **uploads.limits_for(runnable=artifact.is_runnable)}
    return render(request, "portfolio/version_form.html", context, status=400 if form.errors else 200)


@require_GET
def version_download(request: Request, pk: int, number: int) -> FileResponse:
    version = get_object_or_404(ArtifactVersion.objects.visible_to(request.user), artifact_id=pk, number=number)
    if version.is_link:
        raise Http404("A link has no file.")
    # Learners' files are untrusted: never a type a browser renders (an .html upload would run its
    # script on our origin), and a sandbox in case something opens it in place anyway.
    response = FileResponse(
        version.file.open("rb"),
        as_attachment=True,
        filename=version.original_filename,
        content_type="application/octet-stream",
    )
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@require_POST
def version_run(request: Request, pk: int, number: int) -> HttpResponse:
    version = get_object_or_404(ArtifactVersion.objects.of(request.user), artifact_id=pk, number=number)
    try:
        return redirect(version.request_run(by=request.user))
    except RunRefused as exc:
        messages.error(request, exc.message)
        return redirect(version.artifact)


@require_http_methods(["GET", "POST"])
def results_create(request: Request, pk: int) -> HttpResponse:
    artifact = get_object_or_404(Artifact.objects.of(request.user).select_related("spec"), pk=pk)
    form = ResultsForm(request.POST or None, request.FILES or None, artifact=artifact)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        upload = artifact.add_results(form.document, version=data["version"], notes=data["notes"], checked=form.checked)
        messages.success(request, "Results stored as self-reported.")
        return redirect(upload)
    context = {"artifact": artifact, "form": form, "schema": artifact.results_schema}
    return render(request, "portfolio/results_form.html", context, status=400 if form.errors else 200)


@require_GET
def result_detail(request: Request, pk: int) -> HttpResponse:
    upload = get_object_or_404(
        ResultUpload.objects.visible_to(request.user).select_related("artifact", "version"), pk=pk
    )
    context = {
        "upload": upload,
        "artifact": upload.artifact,
        "report": reports.upload_report(upload),
        "definitions": reports.bench_metrics.DEFINITIONS,
    }
    return render(request, "portfolio/result_detail.html", context)


@login_not_required
@require_GET
def schema_detail(request: Request, name: str) -> HttpResponse:
    """Public: the published results schemas are documentation."""
    schema = results.SCHEMAS.get(name) or _not_found()
    return render(request, "portfolio/schema_detail.html", {"schema": schema, "schemas": results.SCHEMAS.values()})


def _not_found() -> results.ResultsSchema:
    raise Http404("No such results schema.")


@login_not_required
@require_GET
def contract_file(request: Request, kind: str, filename: str) -> HttpResponse:
    """Public: the downloads of a runnable spec's contract (skeleton, example, schemas)."""
    content_type, make = contracts.FILES.get((kind, filename)) or _no_such_file()
    response = HttpResponse(make(), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _no_such_file() -> tuple[str, object]:
    raise Http404("No such contract file.")


@require_GET
def run_detail(request: Request, pk: int) -> HttpResponse:
    run = get_object_or_404(
        Run.objects.visible_to(request.user).select_related("version__artifact__spec__roadmap", "current_attempt"),
        pk=pk,
    )
    template = "portfolio/run_detail.html#run-status" if request.htmx else "portfolio/run_detail.html"
    earlier = Run.objects.visible_to(request.user).comparable_to(run)
    compare = request.GET.get("compare", "")
    chosen = get_object_or_404(earlier, pk=compare) if compare.isdigit() else None
    context = {
        "run": run,
        "artifact": run.version.artifact,
        "is_owner": run.version.artifact.owner_id == request.user.pk,
        "report": None if run.is_active else reports.report_for(run, earlier=chosen),
        "earlier_runs": earlier.defer("raw", "tests", "log_tail", "metrics", "environment")[:20]
        if run.grader == reports.BENCHMARK
        else [],
        "compare": chosen,
        "refusal": bench_refusals.explain(run) if run.grader == reports.BENCHMARK and not run.is_active else None,
    }
    return render(request, template, context)


@require_POST
def run_cancel(request: Request, pk: int) -> HttpResponse:
    run = get_object_or_404(Run.objects.of(request.user), pk=pk)
    if not run.cancel(by=request.user):
        messages.info(request, "This run had already finished.")
    return redirect(run)


@require_POST
def run_rerun(request: Request, pk: int) -> HttpResponse:
    run = get_object_or_404(Run.objects.of(request.user).select_related("version__artifact__spec"), pk=pk)
    try:
        return redirect(run.rerun(by=request.user))
    except RunRefused as exc:
        messages.error(request, exc.message)
        return redirect(run)
