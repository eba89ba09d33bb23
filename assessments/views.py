"""The learner's pages and actions. Every row is looked up through `.of(request.user)`."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from accounts.forms import DeleteAccountForm
from accounts.http import Request
from assessments.dashboard import build_dashboard
from assessments.export import delete_account, export_user_data
from assessments.forms import LinkForm, NoteForm, ProgressForm, SelfAssessmentForm
from assessments.models import GateRequest, PathFollow, PersonalLink, SelfAssessment, TopicNote, TopicProgress
from assessments.overlays import topic_notes
from assessments.progress import Progress, checklist_layers
from roadmap.models import Roadmap, Topic


def _next_url(request: Request, default: str) -> str:
    """The page the form came from, if it is on this site; otherwise `default`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return default


def _roadmap(slug: str) -> Roadmap:
    return get_object_or_404(Roadmap.objects.current(), slug=slug)


def _topic(roadmap_slug: str, slug: str) -> Topic:
    return get_object_or_404(Topic.objects.at(roadmap_slug, slug).select_related("roadmap", "layer"))


@require_GET
def dashboard(request: Request) -> HttpResponse:
    board = build_dashboard(request.user, request.GET.get("roadmap"))
    if request.GET.get("roadmap") and board.roadmap is None:
        return redirect("assessments:dashboard")
    context = {"board": board, "roadmap": board.roadmap, "time_zone": settings.TIME_ZONE}
    return render(request, "assessments/dashboard.html", context)


@require_GET
def progress_detail(request: Request, roadmap_slug: str) -> HttpResponse:
    """Every topic of a roadmap with its status control: the no-JavaScript way to mark many."""
    roadmap = _roadmap(roadmap_slug)
    context = {
        "roadmap": roadmap,
        "layers": checklist_layers(roadmap),
        "progress": Progress.load(request.user, roadmap),
    }
    return render(request, "assessments/progress_detail.html", context)


@require_POST
def progress_update(request: Request, roadmap_slug: str, slug: str) -> HttpResponse:
    topic = _topic(roadmap_slug, slug)
    form = ProgressForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a status or a confidence from 1 to 5.")
        return redirect(_next_url(request, topic.get_absolute_url()))
    progress = TopicProgress.mark(request.user, topic, **form.changes())
    if not request.htmx:
        # Back to the same place on the page the form was on: every status form has this id.
        return redirect(_next_url(request, topic.get_absolute_url()).split("#")[0] + f"#topic-status-{topic.slug}")
    context = {
        "topic": topic,
        "roadmap": topic.roadmap,
        "layer": topic.layer,
        "state": progress.state,
        "next": request.POST.get("next", ""),
        "compact": bool(request.POST.get("compact")),
        "refresh": request.POST.get("refresh", ""),
        "refresh_parts": request.POST.get("refresh", "").split(),
        "progress": Progress.load(request.user, topic.roadmap),
    }
    response = render(request, "assessments/_progress_changed.html", context)
    return trigger_client_event(response, "progress-changed", {"topic": topic.pk, "status": progress.status})


@require_http_methods(["GET", "POST"])
def assessment_detail(request: Request, roadmap_slug: str, layer_slug: str) -> HttpResponse:
    roadmap = _roadmap(roadmap_slug)
    layer = get_object_or_404(roadmap.layers.current(), slug=layer_slug)
    history = SelfAssessment.objects.of(request.user).filter(layer=layer)
    current = history.first()
    # No preselected level: a careless Save on a first visit must not record a 0.
    initial = {"level": current.level, "justification": current.justification} if current else {}
    form = SelfAssessmentForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        row = SelfAssessment.record(request.user, layer, **form.cleaned_data)
        messages.success(request, f"Saved: level {row.level}." if row else "No change: that is your current rating.")
        return redirect("assessments:assessment-detail", roadmap.slug, layer.slug)
    context = {
        "roadmap": roadmap,
        "layer": layer,
        "form": form,
        "current": current,
        "history": history,
        "levels": roadmap.levels.current(),
        "verified": GateRequest.objects.of(request.user).filter(gate__layer=layer).verifications().get(layer.pk),
    }
    return render(request, "assessments/assessment_detail.html", context)


@require_GET
def note_list(request: Request) -> HttpResponse:
    notes = TopicNote.objects.of(request.user).exclude(body="").select_related("topic__roadmap", "topic__layer")
    return render(request, "assessments/note_list.html", {"notes": notes})


def _learner_block(request: Request, topic: Topic, partial: str, **context: object) -> HttpResponse:
    """After a note or link change: the changed fragment to htmx, the topic page to everyone else."""
    if not request.htmx:
        return redirect(topic.get_absolute_url() + "#your-notes")
    context = topic_notes(request.user, topic, **context) | {"topic": topic, "roadmap": topic.roadmap}
    return render(request, f"assessments/_topic_learner.html#{partial}", context)


@require_POST
def note_update(request: Request, roadmap_slug: str, slug: str) -> HttpResponse:
    topic = _topic(roadmap_slug, slug)
    form = NoteForm(request.POST)
    if not form.is_valid():
        if request.htmx:
            return _learner_block(request, topic, "topic-note", note_form=form)
        messages.error(request, "; ".join(form.errors["body"]))
        return redirect(topic.get_absolute_url() + "#your-notes")
    note = TopicNote.write(request.user, topic, form.cleaned_data["body"])
    return _learner_block(request, topic, "topic-note", note=note, saved=True)


@require_POST
def link_create(request: Request, roadmap_slug: str, slug: str) -> HttpResponse:
    topic = _topic(roadmap_slug, slug)
    form = LinkForm(request.POST, instance=PersonalLink(user=request.user, topic=topic))
    if form.is_valid():
        PersonalLink.add(request.user, topic, url=form.cleaned_data["url"], title=form.cleaned_data["title"])
        form = LinkForm()
    elif not request.htmx:
        messages.error(request, " ".join(f"{field}: {'; '.join(errors)}" for field, errors in form.errors.items()))
    return _learner_block(request, topic, "topic-links", link_form=form)


@require_POST
def link_delete(request: Request, pk: int) -> HttpResponse:
    link = get_object_or_404(PersonalLink.objects.of(request.user).select_related("topic__roadmap"), pk=pk)
    link.delete()
    return _learner_block(request, link.topic, "topic-links")


@require_POST
def path_follow(request: Request, roadmap_slug: str, slug: str) -> HttpResponse:
    roadmap = _roadmap(roadmap_slug)
    path = get_object_or_404(roadmap.paths.current(), slug=slug)
    if request.POST.get("follow") == "0":
        PathFollow.unfollow(request.user, path)
    else:
        PathFollow.follow(request.user, path)
    if request.htmx:
        followed = PathFollow.objects.of(request.user).filter(path=path).exists()
        return render(request, "assessments/_path_follow.html", {"path": path, "followed": followed})
    return redirect(_next_url(request, path.get_absolute_url()))


@require_GET
def data_export(request: Request) -> HttpResponse:
    data = export_user_data(request.user)
    response = HttpResponse(json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json")
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="layerwise-{request.user.username}-{stamp}.json"'
    return response


@require_http_methods(["GET", "POST"])
def account_delete(request: Request) -> HttpResponse:
    form = DeleteAccountForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = request.user
        logout(request)
        delete_account(user)
        messages.success(request, "Your account and everything in it are deleted.")
        return redirect(reverse("roadmap:roadmap-list"))
    return render(request, "assessments/account_delete.html", {"form": form})
