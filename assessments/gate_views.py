"""Gate requests, the reviewer inbox and review page, the audit history, and credentials.

Requests are looked up through `GateRequest.objects.visible_to(user)`, so a request you may not
see is a 404. Seeing one but not being allowed the action (the learner deciding their own gate,
a reviewer editing a learner's evidence, staff deciding) is a 403 that says why. Illegal
transitions (submitting twice, approving a draft) come back as a message on the page.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import rules
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.http import Request
from assessments import credentials
from assessments.diffs import changes_since
from assessments.downloads import csv_download
from assessments.gate_forms import DecisionForm, KeepApprovalForm, ReopenForm, RequestForm, VerifyForm
from assessments.models import (
    AuditEvent,
    Check,
    Credential,
    GateError,
    GateRequest,
    NotAllowed,
    Review,
    SelfAssessment,
    Verdict,
    best_runs,
)
from assessments.models.credentials import summarize
from portfolio.models import Artifact, ArtifactVersion, ResultUpload
from roadmap.models import EvaluationGate


def _visible(request: Request, pk: int) -> GateRequest:
    related = ("gate__layer__roadmap", "gate__level", "learner", "reviewer")
    return get_object_or_404(GateRequest.objects.visible_to(request.user).select_related(*related), pk=pk)


def _act(
    request: Request,
    gate_request: GateRequest,
    action: Callable[[], Any],
    done: str,
    form: RequestForm | None = None,
) -> HttpResponse:
    """Run a model verb: a refusal of the person is a 403, a refusal of a field of `form` goes back
    to the form (what was typed kept), a refusal of the state is a message."""
    try:
        action()
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from None
    except GateError as exc:
        if form is not None and exc.field in form.fields:
            form.add_error(exc.field, exc.message)
            return _request_page(request, gate_request, form)
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    # Reviewers act from the review page and go back to it; the learner, to the request page.
    if request.POST.get("next") == "review":
        return redirect(gate_request.get_review_url())
    return redirect(gate_request)


# --- the learner's side -----------------------------------------------------------------------


@require_POST
def request_open(request: Request, roadmap_slug: str, layer_slug: str) -> HttpResponse:
    """From a layer page: the learner's live request for its gate, or a new draft."""
    gate = get_object_or_404(
        EvaluationGate.objects.current().for_layer(roadmap_slug, layer_slug).select_related("layer__roadmap")
    )
    return redirect(GateRequest.open(request.user, gate))


@require_GET
def request_list(request: Request) -> HttpResponse:
    mine = GateRequest.objects.of(request.user).select_related("gate__layer__roadmap", "reviewer")
    return render(request, "assessments/gate_request_list.html", {"requests": mine})


def _pin_choices(gate_request: GateRequest) -> list[Artifact]:
    """The learner's artifacts of this roadmap (and free-form ones), required specs first; each
    version carries `best_run`, the run that would be pinned with it (one query for all)."""
    roadmap = gate_request.gate.layer.roadmap
    required = set(gate_request.gate.required_artifacts.values_list("pk", flat=True))
    artifacts = list(
        Artifact.objects.of(gate_request.learner)
        .filter(Q(spec__roadmap=roadmap) | Q(spec__isnull=True))
        .select_related("spec")
        .prefetch_related("versions", "result_uploads")
    )
    runs = best_runs(v.pk for a in artifacts for v in a.versions.all())
    for artifact in artifacts:
        for version in artifact.versions.all():
            version.best_run = runs.get(version.pk)  # type: ignore[attr-defined]
    return sorted(artifacts, key=lambda a: (a.spec_id not in required, a.spec.code if a.spec else "~", a.title))


def _request_context(request: Request, gate_request: GateRequest, **extra: Any) -> dict[str, Any]:
    evidence = gate_request.evidence_list()
    actions = gate_request.actions_for(request.user)
    return {
        "gate_request": gate_request,
        "gate": gate_request.gate,
        "layer": gate_request.gate.layer,
        "roadmap": gate_request.gate.layer.roadmap,
        "evidence": evidence,
        "requirements": gate_request.requirements(evidence),
        "pinned_versions": {e.version_id for e in evidence if e.version_id},
        "pinned_results": {e.result_id for e in evidence if e.result_id},
        "choices": _pin_choices(gate_request) if actions.can_edit else [],
        "actions": actions,
        "has_deciders": gate_request.deciders().exists() if actions.can_submit else True,
        "form": RequestForm(gate_request=gate_request),
        "reopen_form": ReopenForm(),
        "reviews": gate_request.reviews.select_related("reviewer"),
        "credential": gate_request.credentials.active().first(),
        "events": AuditEvent.objects.filter(request_id=gate_request.pk).select_related("actor"),
        **extra,
    }


@require_GET
def request_detail(request: Request, pk: int) -> HttpResponse:
    gate_request = _visible(request, pk)
    return render(request, "assessments/gate_request_detail.html", _request_context(request, gate_request))


def _request_page(request: Request, gate_request: GateRequest, form: RequestForm) -> HttpResponse:
    """The request page with a refused form, as it was typed."""
    context = _request_context(request, gate_request, form=form)
    return render(request, "assessments/gate_request_detail.html", context, status=422)


@require_POST
def request_update(request: Request, pk: int) -> HttpResponse:
    gate_request = _visible(request, pk)
    form = RequestForm(request.POST, gate_request=gate_request)
    if not form.is_valid():
        return _request_page(request, gate_request, form)
    data = form.cleaned_data
    return _act(
        request,
        gate_request,
        lambda: gate_request.edit(by=request.user, explanation=data["explanation"], ticks=data["ticks"]),
        "Saved your explanation and ticks.",
        form=form,
    )


def _evidence_changed(request: Request, gate_request: GateRequest, change: Callable[[], Any]) -> HttpResponse:
    try:
        change()
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from None
    except GateError as exc:
        messages.error(request, exc.message)
    if not request.htmx:
        return redirect(gate_request.get_absolute_url() + "#request-evidence")
    gate_request.refresh_from_db()
    return render(
        request, "assessments/gate_request_detail.html#request-evidence", _request_context(request, gate_request)
    )


@require_POST
def evidence_add(request: Request, pk: int) -> HttpResponse:
    """Pin a version (`version`) or a results upload (`result`) of the learner's own artifacts."""
    gate_request = _visible(request, pk)
    version_id, result_id = request.POST.get("version", ""), request.POST.get("result", "")
    # Only the learner's own things exist here: anyone else's id is a 404, as if it did not exist.
    learner = gate_request.learner
    if version_id.isdigit():
        version = get_object_or_404(ArtifactVersion.objects.of(learner).select_related("artifact"), pk=version_id)
        return _evidence_changed(request, gate_request, lambda: gate_request.pin(version, by=request.user))
    if result_id.isdigit():
        upload = get_object_or_404(ResultUpload.objects.of(learner).select_related("artifact"), pk=result_id)
        return _evidence_changed(request, gate_request, lambda: gate_request.pin_result(upload, by=request.user))
    messages.error(request, "Choose a version or a results upload to pin.")
    return redirect(gate_request)


@require_POST
def evidence_remove(request: Request, pk: int, evidence_pk: int) -> HttpResponse:
    gate_request = _visible(request, pk)
    return _evidence_changed(request, gate_request, lambda: gate_request.unpin(evidence_pk, by=request.user))


@require_POST
def request_submit(request: Request, pk: int) -> HttpResponse:
    """Submit; when the form's fields came with it (its "Submit" button), what is on the form is
    saved first, so no edit is lost, and a refusal of either keeps what was typed."""
    gate_request = _visible(request, pk)
    form = RequestForm(request.POST, gate_request=gate_request) if "explanation" in request.POST else None
    if form is not None and not form.is_valid():
        return _request_page(request, gate_request, form)

    def save_and_submit() -> None:
        if form is not None:
            data = form.cleaned_data
            gate_request.edit(by=request.user, explanation=data["explanation"], ticks=data["ticks"])
        gate_request.submit(by=request.user)

    return _act(
        request,
        gate_request,
        save_and_submit,
        "Submitted. The reviewers and leads of your teams have been notified.",
        form=form,
    )


@require_POST
def request_withdraw(request: Request, pk: int) -> HttpResponse:
    gate_request = _visible(request, pk)
    return _act(request, gate_request, lambda: gate_request.withdraw(by=request.user), "Withdrawn.")


@require_POST
def request_reopen(request: Request, pk: int) -> HttpResponse:
    gate_request = _visible(request, pk)
    form = ReopenForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    return _act(
        request,
        gate_request,
        lambda: gate_request.reopen(by=request.user, reason=reason),
        "Reopened: the verified level no longer counts this gate, and its credentials are revoked.",
    )


# --- history ------------------------------------------------------------------------------------


def _history(gate_request: GateRequest) -> list[AuditEvent]:
    return list(AuditEvent.objects.of_gate(gate_request.learner_id, gate_request.gate_id))


@require_GET
def history_detail(request: Request, pk: int) -> HttpResponse:
    gate_request = _visible(request, pk)
    context = {"gate_request": gate_request, "layer": gate_request.gate.layer, "events": _history(gate_request)}
    return render(request, "assessments/gate_history.html", context)


def _event_row(event: AuditEvent) -> dict[str, Any]:
    return {
        "at": event.created_at.isoformat(),
        "request": event.request_id,
        "action": event.action,
        "actor": event.actor.username if event.actor else None,
        "from_status": event.from_status or None,
        "to_status": event.to_status or None,
        "evidence": event.payload.get("evidence", []),
        "payload": event.payload,
    }


@require_GET
def history_export(request: Request, pk: int, fmt: str) -> HttpResponse:
    """The gate's history (every request of this learner for this gate) as JSON or CSV."""
    gate_request = _visible(request, pk)
    layer = gate_request.gate.layer
    rows = [_event_row(e) for e in _history(gate_request)]
    name = f"gate-{layer.roadmap.slug}-{layer.slug}-{gate_request.learner.username}"
    if fmt == "json":
        document = {
            "learner": gate_request.learner.username,
            "roadmap": layer.roadmap.slug,
            "layer": layer.slug,
            "events": rows,
        }
        response: HttpResponse = JsonResponse(document, json_dumps_params={"indent": 2, "ensure_ascii": False})
        response["Content-Disposition"] = f'attachment; filename="{name}.json"'
        return response
    header = ["at", "request", "action", "actor", "from_status", "to_status", "evidence_sha256", "detail"]
    return csv_download(f"{name}.csv", [header, *(_event_csv_line(row) for row in rows)])


def _event_csv_line(row: dict[str, Any]) -> list[object]:
    hashes = [e.get("sha256") or e.get("result_sha256") or "" for e in row["evidence"]]
    detail = {k: v for k, v in row["payload"].items() if k != "evidence"}
    return [
        row["at"],
        row["request"],
        row["action"],
        row["actor"] or "",
        row["from_status"] or "",
        row["to_status"] or "",
        " ".join(hashes),
        json.dumps(detail, ensure_ascii=False) if detail else "",
    ]


# --- reviewing ----------------------------------------------------------------------------------


@require_GET
def review_list(request: Request) -> HttpResponse:
    """The inbox: requests awaiting a decision from learners of the user's teams, oldest first."""
    pending = GateRequest.objects.awaiting_decision_by(request.user)
    rows = [(r, r.run_summary(r.evidence.all(), r.gate.required_artifacts.all())) for r in pending]
    return render(request, "assessments/review_list.html", {"rows": rows})


def _review_request(request: Request, pk: int) -> GateRequest:
    gate_request = _visible(request, pk)
    if gate_request.is_learner(request.user):
        raise PermissionDenied("Nobody reviews their own gate: a reviewer or lead of your team decides it.")
    if not rules.test_rule("gates.read_review", request.user, gate_request):
        raise PermissionDenied("Only a reviewer or lead of a team the learner belongs to can review this request.")
    return gate_request


@require_GET
def review_detail(request: Request, pk: int) -> HttpResponse:
    return _review_page(request, _review_request(request, pk))


def _review_page(
    request: Request,
    gate_request: GateRequest,
    form: DecisionForm | None = None,
    keep_form: KeepApprovalForm | None = None,
) -> HttpResponse:
    evidence = gate_request.evidence_list()
    previous = gate_request.previous_review()
    context = {
        "gate_request": gate_request,
        "gate": gate_request.gate,
        "layer": gate_request.gate.layer,
        "learner": gate_request.learner,
        "evidence": evidence,
        "requirements": gate_request.requirements(evidence),
        "machine_gaps": gate_request.machine_evidence_gaps(evidence),
        "previous": previous,
        "changes": changes_since(previous, evidence) if previous else [],
        "self_rating": SelfAssessment.objects.of(gate_request.learner).filter(layer=gate_request.gate.layer).first(),
        "reviews": gate_request.reviews.select_related("reviewer"),
        "events": AuditEvent.objects.filter(request_id=gate_request.pk).select_related("actor"),
        "actions": gate_request.actions_for(request.user),
        "form": form or DecisionForm(gate_request=gate_request),
        "reopen_form": ReopenForm(),
        "keep_form": keep_form or KeepApprovalForm(),
    }
    return render(request, "assessments/review_detail.html", context, status=422 if form or keep_form else 200)


@require_POST
def review_start(request: Request, pk: int) -> HttpResponse:
    gate_request = _review_request(request, pk)
    return _act(
        request,
        gate_request,
        lambda: gate_request.start_review(by=request.user),
        "You are reviewing this request; the other reviewers see that.",
    )


@require_POST
def review_decide(request: Request, pk: int) -> HttpResponse:
    gate_request = _review_request(request, pk)
    form = DecisionForm(request.POST, gate_request=gate_request)
    if not form.is_valid():
        return _review_page(request, gate_request, form)
    data = form.cleaned_data

    def decide() -> Review:
        if data["decision"] == Review.Decision.APPROVE:
            return gate_request.approve(
                by=request.user, marks=form.marks(), comment=data["comment"], attest_reason=data["attest_reason"]
            )
        return gate_request.request_changes(by=request.user, marks=form.marks(), comment=data["comment"])

    try:
        review = decide()
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from None
    except GateError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return _review_page(request, gate_request, form)
    attested = " on your attestation" if review.attested else ""
    messages.success(
        request, f"{review.get_decision_display()}{attested}. {gate_request.learner.name} has been notified."
    )
    return redirect(gate_request.get_review_url())


@require_POST
def review_keep(request: Request, pk: int) -> HttpResponse:
    """Keep an approval whose regraded evidence no longer passes, on the reviewer's attestation."""
    gate_request = _review_request(request, pk)
    keep_form = KeepApprovalForm(request.POST)
    if not keep_form.is_valid():
        return _review_page(request, gate_request, keep_form=keep_form)
    try:
        gate_request.keep_approval(by=request.user, reason=keep_form.cleaned_data["reason"])
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from None
    except GateError as exc:
        keep_form.add_error(exc.field if exc.field in keep_form.fields else None, exc.message)
        return _review_page(request, gate_request, keep_form=keep_form)
    messages.success(request, "The approval stands on your attestation; the gate is labelled attested.")
    return redirect(gate_request.get_review_url())


# --- credentials ---------------------------------------------------------------------------------


@require_POST
def credential_issue(request: Request, pk: int) -> HttpResponse:
    gate_request = _visible(request, pk)
    try:
        credential = gate_request.issue_credential(by=request.user)
    except NotAllowed as exc:
        raise PermissionDenied(exc.message) from None
    except GateError as exc:
        messages.error(request, exc.message)
        return redirect(gate_request)
    messages.success(request, "Your credential is ready to share: its link is below.")
    return redirect(gate_request.get_absolute_url() + f"#credential-{credential.pk}")


def _json(document: dict[str, Any], **kwargs: Any) -> JsonResponse:
    return JsonResponse(
        document, content_type="application/ld+json", json_dumps_params={"indent": 2, "ensure_ascii": False}, **kwargs
    )


@login_not_required
@require_GET
def credential_detail(request: Request, pk: str) -> HttpResponse:
    """Public: the credential's id URL. People get a page with what it says and whether it holds;
    wallets and verifiers asking for JSON get the signed document as issued. Revoked ones too."""
    credential = get_object_or_404(Credential.objects.select_related("request"), pk=pk)
    if request.get_preferred_type(["text/html", "application/ld+json", "application/json"]) != "text/html":
        return _json(credential.document)
    context = {
        "credential": credential,
        "summary": summarize(credential.document),
        "verdict": Credential.objects.verify(credential.document),
        "share_url": request.build_absolute_uri(credential.get_absolute_url()),
    }
    return render(request, "assessments/credential_detail.html", context)


@login_not_required
@require_GET
def credential_download(request: Request, pk: str) -> HttpResponse:
    """Public: the signed document as a file to keep or to add to a wallet."""
    credential = get_object_or_404(Credential, pk=pk)
    response = _json(credential.document)
    response["Content-Disposition"] = f'attachment; filename="credential-{credential.pk}.json"'
    return response


@login_not_required
@require_GET
def credential_issuer(request: Request) -> HttpResponse:
    """Public: the issuer, an Open Badges Profile with the key it signs with."""
    return _json(credentials.issuer_profile())


@login_not_required
@require_GET
def credential_key(request: Request, key_id: str) -> HttpResponse:
    """Public: the signing key as a Multikey (a credential proof's verificationMethod)."""
    key = credentials.multikey()
    if key["id"].rstrip("/").rsplit("/", 1)[-1] != key_id:
        raise Http404("This site does not sign with that key.")
    return _json(key)


@login_not_required
@require_GET
def credential_status(request: Request) -> HttpResponse:
    """Public: the revocation list, a signed Bitstring Status List credential."""
    return _json(Credential.objects.status_list_credential(), headers={"Cache-Control": "no-cache"})


@login_not_required
@require_GET
def credential_keys(request: Request) -> HttpResponse:
    """Public: the key as a JWKS, where credentials in the legacy format name it."""
    return JsonResponse(credentials.jwks())


@login_not_required
@require_http_methods(["GET", "POST"])
def credential_verify(request: Request) -> HttpResponse:
    """Public: paste or upload a credential (or its link), or follow ?id=…, and see each check."""
    if request.method == "POST":
        form = VerifyForm(request.POST, request.FILES)
    else:
        form = VerifyForm({"credential": request.GET["id"]}) if request.GET.get("id") else VerifyForm()
    verdict = _verdict_for(form.text) if form.is_bound and form.is_valid() else None
    status = 422 if form.is_bound and not form.is_valid() else 200
    context = {"form": form, "verdict": verdict, "summary": summarize(verdict.document) if verdict else None}
    return render(request, "assessments/credential_verify.html", context, status=status)


def _verdict_for(text: str) -> Verdict:
    text = text.strip()
    if text.startswith(("{", "[")):
        document, problem = credentials.parse_document(text)
        if problem:
            return Verdict.failed("invalid", [], Check("structure", False, problem))
        return Credential.objects.verify(document)
    pk = credentials.credential_uuid(text)
    stored = Credential.objects.filter(pk=pk).first() if pk else None
    if stored is None:
        return Verdict.failed("invalid", [], Check("structure", False, "No credential with this id was issued here."))
    return Credential.objects.verify(stored.document)
