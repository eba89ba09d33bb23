"""The roadmap page's topic finder: search and filters over the graph and the phone's list."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django import forms

from roadmap.models import Layer, Topic

NOT_STARTED = "not_started"


class TopicFinderForm(forms.Form):
    """Search by words in a topic's title, filter by layer and, where an overlay colours the graph
    by the learner's progress, by status. Without a status overlay (a visitor) there is no status
    field; a value the form does not know is an error that names the field."""

    q = forms.CharField(required=False, max_length=100, label="Search topics", strip=True)
    layer = forms.ChoiceField(required=False, label="Layer")
    status = forms.ChoiceField(required=False, label="Status")

    def __init__(
        self, data: Mapping[str, Any] | None, *, layers: Iterable[Layer], statuses: Sequence[tuple[str, str]]
    ) -> None:
        super().__init__(data)
        self.fields["layer"].choices = [("", "All layers"), *((layer.slug, layer.label) for layer in layers)]
        if statuses:
            self.fields["status"].choices = [("", "Any status"), *statuses]
        else:
            del self.fields["status"]

    def matching(
        self, topics: Iterable[Topic], layers: Iterable[Layer], statuses: Mapping[int, str]
    ) -> set[int] | None:
        """The pks of the topics that pass, or None where nothing filters (or the input is bad)."""
        if not self.is_valid():
            return None
        words = self.cleaned_data["q"].casefold().split()
        layer_pk = {layer.slug: layer.pk for layer in layers}.get(self.cleaned_data["layer"])
        status = self.cleaned_data.get("status") or ""
        if not (words or layer_pk or status):
            return None
        return {
            topic.pk
            for topic in topics
            if all(word in topic.title.casefold() for word in words)
            and (layer_pk is None or topic.layer_id == layer_pk)
            and (not status or statuses.get(topic.pk, NOT_STARTED) == status)
        }
