from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.db.models import Q

from portfolio import results
from portfolio.models import Artifact, ArtifactVersion
from portfolio.uploads import Upload, UploadRefused
from roadmap.models import ArtifactSpec, Topic


class SpecChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: ArtifactSpec) -> str:
        runnable = " (runnable)" if obj.is_runnable else ""
        return f"{obj.code} {obj.title}{runnable}"


class ArtifactForm(forms.ModelForm):
    spec = SpecChoiceField(
        queryset=ArtifactSpec.objects.current().select_related("roadmap"),
        required=False,
        empty_label="Free-form (no spec)",
        label="Spec",
        help_text="Which catalogue artifact this proves. Runnable specs are verified by the runner on every version.",
    )

    class Meta:
        model = Artifact
        fields = ["spec", "title", "topics", "notes"]
        help_texts = {
            "notes": "Markdown. What you built, what you measured, what you learned.",
            "topics": "The topics this artifact covers.",
        }

    def __init__(self, *args: Any, spec: ArtifactSpec | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Artifact.create_for gives a spec's artifact the spec's title when none is typed.
        self.fields["title"].required = False
        topics = self.fields["topics"]
        topics.queryset = Topic.objects.current().for_spec(spec)
        if spec is not None:
            # The spec's nearest topics (its layers' and its own): a short list of checkboxes.
            shown = topics.queryset.filter(Q(layer__in=spec.layers.all()) | Q(artifact_specs=spec))
            shown = shown.distinct().select_related("layer")
            topics.widget = forms.CheckboxSelectMultiple()
            group_of = lambda t: t.layer.label + ": " + t.layer.title  # noqa: E731
        else:
            # Every topic of every roadmap: the same checkboxes, grouped by layer, with a search box
            # (portfolio/_field.html) instead of a native multi-select of hundreds of lines.
            shown = topics.queryset.select_related("roadmap", "layer")
            topics.widget = forms.CheckboxSelectMultiple()
            group_of = lambda t: f"{t.roadmap.title} · {t.layer.label}: {t.layer.title}"  # noqa: E731
        grouped: dict[str, list[tuple[int, str]]] = {}
        for topic in shown:
            grouped.setdefault(group_of(topic), []).append((topic.pk, topic.title))
        topics.widget.choices = list(grouped.items())
        groups = {
            roadmap: [(s.pk, self.fields["spec"].label_from_instance(s)) for s in specs]
            for roadmap, specs in _by_roadmap(self.fields["spec"].queryset).items()
        }
        self.fields["spec"].widget.choices = [("", "Free-form (no spec)"), *groups.items()]


def _by_roadmap(specs: Any) -> dict[str, list[ArtifactSpec]]:
    grouped: dict[str, list[ArtifactSpec]] = {}
    for spec in specs:
        grouped.setdefault(spec.roadmap.title, []).append(spec)
    return grouped


class VersionForm(forms.Form):
    file = forms.FileField(
        required=False,
        help_text="A single file, or a zip of a folder. The KV cache calculator: kv_calculator.py, or a zip with it "
        "at its top; the inference benchmark: workload.json or results.json, or a zip with them.",
    )
    link = forms.URLField(
        required=False,
        max_length=2000,
        assume_scheme="https",
        help_text="Or a link (http or https) to a repository, notebook or write-up. Links are not run.",
    )
    notes = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 5}), help_text="Markdown: what changed in this version."
    )

    upload: Upload

    def __init__(self, *args: Any, artifact: Artifact, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.artifact = artifact

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.has_error("link"):
            return data
        try:
            self.upload = self.artifact.receive(data.get("file"), data.get("link") or "")
        except UploadRefused as exc:
            self.add_error(exc.field, exc.message)
        return data


class ResultsForm(forms.Form):
    version = forms.ModelChoiceField(
        queryset=ArtifactVersion.objects.none(),
        required=False,
        empty_label="No particular version",
        help_text="The version these numbers were measured with, if any.",
    )
    file = forms.FileField(required=False, label="Results file (JSON)")
    text = forms.CharField(
        required=False,
        label="Or paste the JSON",
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false"}),
    )
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}), help_text="Markdown.")

    document: Any
    checked: results.Checked

    def __init__(self, *args: Any, artifact: Artifact, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.artifact = artifact
        self.schema_errors: list[dict[str, str]] = []
        self.fields["version"].queryset = artifact.versions.all()
        self.fields["version"].label_from_instance = lambda v: f"v{v.number} ({v.created_at:%Y-%m-%d}, {v.sha256[:12]})"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        file, text = data.get("file"), data.get("text", "").strip()
        if file and text:
            raise forms.ValidationError("Upload a file or paste the JSON, not both.")
        if not file and not text:
            raise forms.ValidationError("Upload a results file or paste the JSON document.")
        limit = settings.RESULTS_MAX_BYTES
        raw = file.read(limit + 1) if file else text.encode()
        field, named = ("file", f"{file.name}: ") if file else ("text", "")
        if len(raw) > limit:
            self.add_error(field, f"{named}is larger than the limit of {limit} bytes.")
            return data
        try:
            self.document = results.parse(raw)
            self.checked = self.artifact.results_schema.check(self.document)
        except results.ResultsInvalid as exc:
            self.schema_errors = exc.errors
            self.add_error(field, named + exc.message)
        return data
