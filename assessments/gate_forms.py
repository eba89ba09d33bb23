"""Forms of the gate request and review pages."""

from __future__ import annotations

from typing import Any

from django import forms

from assessments import credentials
from assessments.models import MARKS, GateRequest, Review


class TickField(forms.TypedMultipleChoiceField):
    """The criteria ticked, by index. Which indexes exist is GateRequest.edit's to say, so the page
    and the API refuse a wrong one with the same words."""

    def valid_value(self, value: Any) -> bool:
        return True


class RequestForm(forms.Form):
    """The learner's explanation and which of the gate's criteria they tick."""

    explanation = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 10}),
        required=False,
        max_length=50_000,
        help_text="Markdown. For each criterion: what you built or measured, and where the evidence shows it.",
    )
    ticks = TickField(coerce=int, required=False, widget=forms.CheckboxSelectMultiple, label="Criteria you meet")

    def __init__(self, *args: Any, gate_request: GateRequest, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial",
            {
                "explanation": gate_request.explanation,
                "ticks": [i for i, item in enumerate(gate_request.checklist) if item.get("ticked")],
            },
        )
        super().__init__(*args, **kwargs)
        self.fields["ticks"].choices = [(i, item["criterion"]) for i, item in enumerate(gate_request.checklist)]


class DecisionForm(forms.Form):
    """A reviewer's decision: a mark per criterion and a comment (required to request changes)."""

    decision = forms.ChoiceField(choices=Review.Decision.choices, widget=forms.RadioSelect)
    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        required=False,
        max_length=20_000,
        help_text="Markdown. Required when you request changes: say what to change.",
    )

    attest_reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=5000,
        label="Attestation",
        help_text="Only to approve without machine evidence: why you vouch for the work anyway. Kept in the "
        "audit trail; the gate is labelled attested wherever it shows.",
    )

    def __init__(self, *args: Any, gate_request: GateRequest, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.criteria = [item["criterion"] for item in gate_request.checklist]
        for i, criterion in enumerate(self.criteria):
            self.fields[f"mark_{i}"] = forms.ChoiceField(
                choices=[("", "Not marked"), *MARKS.items()],
                required=False,
                widget=forms.RadioSelect,
                label=criterion,
            )

    def mark_fields(self) -> list[forms.BoundField]:
        return [self[f"mark_{i}"] for i in range(len(self.criteria))]

    def marks(self) -> list[str]:
        return [self.cleaned_data.get(f"mark_{i}", "") for i in range(len(self.criteria))]


class KeepApprovalForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000,
        label="Attestation",
        help_text="Why the approval stands although the evidence no longer passes. Kept in the gate's history; "
        "the gate is labelled attested from now on.",
    )


class ReopenForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000,
        help_text="Kept in the gate's history. The verified level drops and shared credentials are revoked.",
    )


class VerifyForm(forms.Form):
    """A credential to verify: pasted JSON or its link, or an uploaded .json file."""

    credential = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false"}),
        required=False,
        max_length=credentials.MAX_BYTES,
        error_messages={
            "max_length": "What was pasted is %(show_value)d characters long; a credential is at most %(limit_value)d. "
            "Paste the credential's own JSON, or upload its file."
        },
        label="Credential",
        help_text="Paste the credential's JSON, or its link.",
    )
    file = forms.FileField(
        required=False,
        label="Or upload it",
        help_text=f"The .json file you downloaded (at most {credentials.MAX_BYTES // 1024} KiB).",
        widget=forms.ClearableFileInput(attrs={"accept": ".json,.jsonld,application/json,application/ld+json"}),
    )

    def clean_file(self) -> str:
        upload = self.cleaned_data.get("file")
        if not upload:
            return ""
        if upload.size > credentials.MAX_BYTES:
            raise forms.ValidationError(
                f"{upload.name} is {upload.size // 1024:,} KiB; a credential is at most {credentials.MAX_BYTES // 1024} KiB."
            )
        try:
            return upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError(
                f"{upload.name} is not UTF-8 text; upload the credential's .json file."
            ) from None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not self.errors and not (data.get("credential", "").strip() or data.get("file")):
            raise forms.ValidationError("Paste a credential or its link, or upload its .json file.")
        return data

    @property
    def text(self) -> str:
        """What to verify: the uploaded file's text if there is one, else what was pasted."""
        return self.cleaned_data.get("file") or self.cleaned_data.get("credential", "")
