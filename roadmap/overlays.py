"""What other apps add to the public roadmap pages: the learner's progress, gate request, artifacts.

`roadmap/` may not import `portfolio` or `assessments` (imports point `accounts <- roadmap <-
portfolio <- assessments`), yet its pages show what those apps own. So the apps that own an overlay
name a function in `settings.ROADMAP_OVERLAYS`; a roadmap view calls each with the request, the
page ("roadmaps", "roadmap", "layer", "topic", "path" or "artifact") and the page's context, and each answers
with the context it prepared and the templates, of its own app, that fill the page's named slots.
Roadmap templates only `{% include %}` what is in `slots`; they load no other app's tags, and no
template runs a query of its own.

An overlay answers for anonymous visitors too: most answer None; none of them queries for one.
Besides slots, the roadmap page reads one value an overlay may supply: `topic_statuses`, {topic pk:
status}, which colours the topic graph.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from accounts.http import Request


@dataclass(frozen=True)
class Overlay:
    """Templates for the page's slots (slot name -> template name) and the context they read."""

    slots: Mapping[str, str] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)


OverlayFunction = Callable[[Request, str, Mapping[str, Any]], Overlay | None]


@cache
def _imported(paths: tuple[str, ...]) -> tuple[OverlayFunction, ...]:
    # Keyed by the paths, so a test that overrides the setting gets its own functions.
    return tuple(import_string(path) for path in paths)


def with_overlays(request: Request, page: str, context: dict[str, Any]) -> dict[str, Any]:
    """The page's context, plus what every overlay prepared, plus `slots`: {slot: [template, ...]}."""
    slots: dict[str, list[str]] = {}
    merged = {**context, "slots": slots}
    for function in _imported(tuple(settings.ROADMAP_OVERLAYS)):
        overlay = function(request, page, context)
        if overlay is None:
            continue
        if clash := overlay.context.keys() & merged.keys():
            # A silent overwrite would show one app's value in another's place.
            raise ImproperlyConfigured(f"{function.__module__} overlays {page!r} with names already taken: {clash}")
        merged.update(overlay.context)
        for slot, template in overlay.slots.items():
            slots.setdefault(slot, []).append(template)
    return merged
