"""Portfolio's part of the public roadmap pages (settings.ROADMAP_OVERLAYS; the hook is roadmap/overlays.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from accounts.http import Request
from portfolio import contracts
from portfolio.models import Artifact
from roadmap.overlays import Overlay


def spec_overlay(request: Request, page: str, context: Mapping[str, Any]) -> Overlay | None:
    """On an artifact spec's page: the submission contract of a spec the runner checks (public, no
    query) and, for a signed-in user, their own artifacts of the spec (one query)."""
    if page != "artifact":
        return None
    spec = context["spec"]
    slots: dict[str, str] = {}
    extra: dict[str, Any] = {}
    contract = contracts.contract_for(spec.kind) if spec.is_runnable else None
    if contract is not None:
        slots["contract"] = "portfolio/_spec_contract.html"
        extra["contract"] = contract
    if request.user.is_authenticated:
        slots["aside"] = "portfolio/_start_artifact.html"
        extra["my_artifacts"] = Artifact.objects.of(request.user).filter(spec=spec)[:5]
    return Overlay(slots, extra)
