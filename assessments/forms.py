from __future__ import annotations

from typing import Any

from django import forms

from assessments.models import CONFIDENCE_RANGE, KEEP, LEVEL_RANGE, PersonalLink, Status


class ProgressForm(forms.Form):
    """Status and/or confidence; a field left out of the request is left as it is."""

    status = forms.ChoiceField(choices=Status.choices, required=False)
    confidence = forms.TypedChoiceField(
        choices=[("", "none"), *((n, str(n)) for n in CONFIDENCE_RANGE)],
        coerce=int,
        empty_value=None,
        required=False,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "status" not in self.data and "confidence" not in self.data:
            raise forms.ValidationError("Send a status, a confidence, or both.")
        return data

    def changes(self) -> dict[str, Any]:
        return {
            "status": self.cleaned_data["status"] if self.data.get("status") else KEEP,
            "confidence": self.cleaned_data["confidence"] if "confidence" in self.data else KEEP,
        }


class SelfAssessmentForm(forms.Form):
    level = forms.TypedChoiceField(
        choices=[(n, str(n)) for n in LEVEL_RANGE],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": "Level: pick the level that describes you before saving."},
    )
    justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
        max_length=5000,
        help_text="What you can do that shows this level: things you built, measured or explained. Markdown.",
    )


class NoteForm(forms.Form):
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}),
        required=False,
        max_length=50_000,
        label="Your notes",
        help_text="Markdown. Private: only you see them.",
    )


class LinkForm(forms.ModelForm):
    class Meta:
        model = PersonalLink
        fields = ("url", "title")
        labels = {"url": "Link", "title": "Title (optional)"}
        widgets = {"url": forms.URLInput(attrs={"placeholder": "https://…"})}
