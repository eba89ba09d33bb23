"""Artifacts, their immutable versions, self-reported results, and the runs that verify them.

- `artifacts`: Artifact, ArtifactVersion (immutable, hashed), ResultUpload.
- `runs`: Run and RunAttempt, their transitions, the reaper and redispatch.
"""

from __future__ import annotations

from portfolio.models.artifacts import (
    Artifact,
    ArtifactInvalid,
    ArtifactQuerySet,
    ArtifactVersion,
    ArtifactVersionQuerySet,
    ImmutableError,
    NewVersion,
    ResultUpload,
    ResultUploadQuerySet,
)
from portfolio.models.runs import (
    RUN_SUBMISSIONS,
    Run,
    RunAttempt,
    RunAttemptQuerySet,
    RunQuerySet,
    RunRefused,
    reap_stale_attempts,
    redispatch_attempts,
    runner_queue_length,
)

__all__ = [
    "RUN_SUBMISSIONS",
    "Artifact",
    "ArtifactInvalid",
    "ArtifactQuerySet",
    "ArtifactVersion",
    "ArtifactVersionQuerySet",
    "ImmutableError",
    "NewVersion",
    "ResultUpload",
    "ResultUploadQuerySet",
    "Run",
    "RunAttempt",
    "RunAttemptQuerySet",
    "RunQuerySet",
    "RunRefused",
    "reap_stale_attempts",
    "redispatch_attempts",
    "runner_queue_length",
]
