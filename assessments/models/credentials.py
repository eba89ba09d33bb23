"""Credentials: an approved gate as an Open Badges 3.0 `OpenBadgeCredential`, the Bitstring Status
List that revokes them, and the verification of any document someone pastes (assessments/
credentials.py holds the key and the formats; assessments/dataintegrity.py the proofs)."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from assessments import credentials, dataintegrity
from assessments.credentials import LEGACY, OB3
from assessments.models.records import Review
from portfolio.reports import headline

if TYPE_CHECKING:
    from assessments.models.gates import GateRequest
    from assessments.models.records import GateEvidence

CHECKS = {"structure": "Structure", "proof": "Proof", "status": "Status", "dates": "Dates"}
HEADLINES = {
    "valid": "Valid",
    "expired": "Expired",
    "revoked": "Revoked",
    "tampered": "Tampered",
    "invalid": "Not valid",
}


@dataclass(frozen=True)
class Check:
    """One step of verifying a document: passed (True), failed (False) or not reached (None)."""

    name: str
    ok: bool | None
    message: str

    @property
    def label(self) -> str:
        return CHECKS[self.name]


@dataclass
class Verdict:
    """Whether a credential document holds (Credential.objects.verify): valid, expired, revoked,
    tampered (the proof does not match the content) or invalid, with each check and its outcome."""

    state: str
    checks: list[Check] = field(default_factory=list)
    credential: Credential | None = None
    document: dict[str, Any] | None = None
    format: str = ""

    @classmethod
    def failed(cls, state: str, passed: list[Check], failure: Check, **kwargs: Any) -> Verdict:
        done = {c.name for c in passed} | {failure.name}
        rest = [Check(name, None, "Not checked: an earlier check failed.") for name in CHECKS if name not in done]
        return cls(state, [*passed, failure, *rest], **kwargs)

    @property
    def headline(self) -> str:
        return HEADLINES[self.state]

    @property
    def reasons(self) -> list[str]:
        failing = [c.message for c in self.checks if c.ok is False]
        return failing or [c.message for c in self.checks if c.ok]

    @property
    def failing_check(self) -> Check | None:
        return next((c for c in self.checks if c.ok is False), None)

    @property
    def is_valid(self) -> bool:
        return self.state == "valid"

    @property
    def is_revoked(self) -> bool:
        return self.state == "revoked"

    @property
    def issued_here(self) -> bool:
        """Its proof holds with our key and this site holds it, revoked, expired or not."""
        return self.state in ("valid", "revoked", "expired")

    @property
    def format_label(self) -> str:
        return credentials.FORMATS.get(self.format, "")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def _structure_problem(document: dict[str, Any], fmt: str) -> str:
    contexts = document.get("@context")
    wanted = credentials.LEGACY_CONTEXT if fmt == LEGACY else [dataintegrity.VC_CONTEXT, dataintegrity.OB_CONTEXT]
    if not isinstance(contexts, list) or contexts[:2] != wanted:
        return f"Its @context does not start with {', '.join(wanted)}."
    types = document.get("type")
    if not isinstance(types, list) or not {"VerifiableCredential", "OpenBadgeCredential"} <= set(map(str, types)):
        return "Its type is not [VerifiableCredential, OpenBadgeCredential]."
    subject = document.get("credentialSubject")
    if not isinstance(subject, dict) or not isinstance(subject.get("achievement"), dict):
        return "It has no credentialSubject with an achievement."
    if not isinstance(document.get("id"), str) or not isinstance(document.get("issuer"), dict | str):
        return "It has no id or no issuer."
    if _parse_time(document.get("validFrom")) is None:
        return "Its validFrom is missing or not a date and time with a time zone."
    if "validUntil" in document and _parse_time(document["validUntil"]) is None:
        return "Its validUntil is not a date and time with a time zone."
    return ""


def _changed_fields(issued: Any, given: Any, path: str = "") -> list[str]:
    """Where `given` differs from the document as issued: dotted paths, at most a few."""
    if isinstance(issued, dict) and isinstance(given, dict):
        out = []
        for key in sorted(set(issued) | set(given), key=str):
            out += _changed_fields(issued.get(key), given.get(key), f"{path}.{key}" if path else str(key))
        return out
    if isinstance(issued, list) and isinstance(given, list) and len(issued) == len(given):
        return [
            p for i, (a, b) in enumerate(zip(issued, given, strict=True)) for p in _changed_fields(a, b, f"{path}[{i}]")
        ]
    return [] if issued == given else [path or "the whole document"]


def _status_index(document: dict[str, Any]) -> int | None:
    entry = document.get("credentialStatus")
    if not isinstance(entry, dict) or entry.get("type") != "BitstringStatusListEntry":
        return None
    if entry.get("statusPurpose") != "revocation" or entry.get("statusListCredential") != credentials.status_list_url():
        return None
    index = entry.get("statusListIndex")
    if not isinstance(index, str) or not index.isdigit() or len(index) > 7:
        return None
    return int(index)


class CredentialQuerySet(models.QuerySet["Credential"]):
    def active(self) -> CredentialQuerySet:
        return self.filter(revoked_at__isnull=True)

    def status_list_credential(self) -> dict[str, Any]:
        """The signed BitstringStatusListCredential of revocations: one bit per credential, set
        when Credential.revoked_at is."""
        url = credentials.status_list_url()
        revoked = self.exclude(status_index=None).filter(revoked_at__isnull=False)
        document = {
            "@context": [dataintegrity.VC_CONTEXT],
            "id": url,
            "type": ["VerifiableCredential", "BitstringStatusListCredential"],
            "issuer": credentials.issuer_url(),
            "validFrom": credentials.timestamp(timezone.now()),
            "credentialSubject": {
                "id": f"{url}#list",
                "type": "BitstringStatusList",
                "statusPurpose": "revocation",
                "encodedList": dataintegrity.encode_status_list(revoked.values_list("status_index", flat=True)),
            },
        }
        return credentials.sign(document)

    def verify(self, document: Any) -> Verdict:
        """Check a document's structure, its proof against this site's key, its status (issued here,
        not revoked: the status list for Open Badges 3.0 credentials, the row for legacy ones) and
        its dates. Every failure names the check that failed."""
        problem = credentials.shape_problem(document)
        fmt = credentials.format_of(document) if not problem else ""
        if not problem and not fmt:
            problem = "It has no proof this site makes (a DataIntegrityProof with the eddsa-rdfc-2022 cryptosuite)."
        problem = problem or _structure_problem(document, fmt)
        if problem:
            return Verdict.failed("invalid", [], Check("structure", False, problem))
        done = [Check("structure", True, f"An OpenBadgeCredential in {credentials.FORMATS[fmt]}.")]
        pk = credentials.credential_uuid(document["id"])
        credential = self.filter(pk=pk).select_related("request").first() if pk else None
        context = {"credential": credential, "document": document, "format": fmt}
        error = credentials.proof_problem(document) if fmt == OB3 else credentials.legacy_signature_problem(document)
        if error is not None:
            message = error.message
            changed = _changed_fields(credential.document, document) if credential and error.tampered else []
            if changed:
                message += f" Changed since it was issued: {', '.join(changed[:5])}."
            state = "tampered" if error.tampered else "invalid"
            return Verdict.failed(state, done, Check("proof", False, message), **context)
        done.append(Check("proof", True, "The proof holds: signed with this site's key, and nothing was changed."))
        status = self._status_check(document, fmt, credential)
        if status.ok is False and credential is None:
            return Verdict.failed("invalid", done, status, **context)
        dates, dated = self._dates_check(document)
        state = "revoked" if status.ok is False else dated
        return Verdict(state, [*done, status, dates], **context)

    def _status_check(self, document: dict[str, Any], fmt: str, credential: Credential | None) -> Check:
        if credential is None:
            return Check(
                "status",
                False,
                "The proof holds, but this site no longer holds a credential with this id (the learner may have deleted their account).",
            )
        revoked = (
            f"Revoked on {credentials.timestamp(credential.revoked_at)}: {credential.revoked_reason or 'no reason recorded'}"
            if credential.revoked_at
            else "Revoked"
        )
        if fmt == LEGACY:
            return Check("status", False, revoked) if credential.is_revoked else Check("status", True, "Not revoked.")
        index = _status_index(document)
        if index is None:
            return Check("status", False, "Its credentialStatus is not an entry in this site's revocation list.")
        status_list = self.status_list_credential()
        if credentials.proof_problem(status_list) is not None:
            return Check("status", False, "This site's revocation list did not verify; try again later.")
        if dataintegrity.status_bit(status_list["credentialSubject"]["encodedList"], index):
            return Check("status", False, f"{revoked} (bit {index} of the revocation list is set).")
        return Check("status", True, f"Not revoked: bit {index} of the revocation list is clear.")

    def _dates_check(self, document: dict[str, Any]) -> tuple[Check, str]:
        """The dates check and the state it leaves: valid, expired, or invalid (not valid yet)."""
        now = timezone.now()
        valid_from = _parse_time(document["validFrom"])
        until = _parse_time(document.get("validUntil"))
        readable = credentials.readable_date
        if valid_from is not None and valid_from > now:
            return Check("dates", False, f"Not valid before {readable(document['validFrom'])}."), "invalid"
        if until is not None and until <= now:
            return Check("dates", False, f"Expired on {readable(document['validUntil'])}."), "expired"
        end = f" until {readable(document['validUntil'])}." if until else ", with no end date."
        return Check("dates", True, f"Valid from {readable(document['validFrom'])}{end}"), "valid"


class Credential(models.Model):
    """A signed, shareable statement that a gate was approved.

    `document` is exactly what was signed and handed out. Revocation (the gate reopened) is
    recorded here and published through the status list, at the bit `status_index`; credentials
    issued before Open Badges 3.0 have none and are checked against this row."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.ForeignKey("assessments.GateRequest", on_delete=models.CASCADE, related_name="credentials")
    document = models.JSONField()
    issued_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.TextField(blank=True)
    status_index = models.PositiveIntegerField(
        null=True, blank=True, unique=True, help_text="Its bit in the revocation status list."
    )

    objects: ClassVar[CredentialQuerySet] = CredentialQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ["-issued_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["request"], condition=Q(revoked_at__isnull=True), name="one_active_credential_per_request"
            ),
        ]

    def __str__(self) -> str:
        return f"Credential {self.pk} for request {self.request_id}"

    def get_absolute_url(self) -> str:
        return reverse("gates:credential-detail", args=[self.pk])

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def format(self) -> str:
        return credentials.format_of(self.document)

    @property
    def format_label(self) -> str:
        return credentials.FORMATS.get(self.format, "")

    @classmethod
    def issue(cls, request: GateRequest) -> Credential:
        """Sign and store the request's credential at a random free bit of the status list
        (random, so that neighbouring bits say nothing about who else was revoked)."""
        for _ in range(20):
            credential = cls(request=request, status_index=secrets.randbelow(dataintegrity.STATUS_LIST_BITS))
            credential.document = credentials.sign(credential.unsigned_document())
            try:
                with transaction.atomic():
                    credential.save()
            except IntegrityError:
                if not cls.objects.filter(status_index=credential.status_index).exists():
                    raise
                continue
            return credential
        raise IntegrityError("no free bit in the revocation status list")

    def unsigned_document(self) -> dict[str, Any]:
        """The OpenBadgeCredential for this credential's approved request."""
        request = self.request
        gate = request.gate
        layer = gate.layer
        roadmap = layer.roadmap
        site = credentials.site_url()
        issuer = credentials.issuer_url()
        layer_url = f"{site}{layer.get_absolute_url()}"
        status_list = credentials.status_list_url()
        criteria = "\n".join(f"- {item['criterion']}" for item in request.checklist)
        salt = secrets.token_hex(8)
        return {
            "@context": credentials.context(),
            "id": f"{site}{self.get_absolute_url()}",
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "name": f"{roadmap.title}: {layer.label} gate approved",
            "description": f"{request.learner.name} passed the evaluation gate of {layer.label} ({layer.title}) of the {roadmap.title} roadmap, signed off by a reviewer on the evidence listed.",
            "issuer": {"id": issuer, "type": ["Profile"], "name": "Layerwise", "url": f"{site}/"},
            "validFrom": credentials.timestamp(self.issued_at),
            "credentialSubject": {
                "type": ["AchievementSubject"],
                "name": request.learner.name,
                "identifier": [
                    {
                        "type": "IdentityObject",
                        "hashed": True,
                        "identityHash": "sha256$"
                        + hashlib.sha256(f"{request.learner.username}{salt}".encode()).hexdigest(),
                        "identityType": "userName",
                        "salt": salt,
                    }
                ],
                "achievement": {
                    "id": f"{layer_url}#gate",
                    "type": ["Achievement"],
                    "achievementType": "Competency",
                    "name": f"{layer.label}: {layer.title}",
                    "description": gate.statement.strip(),
                    "criteria": {"narrative": f"{gate.statement.strip()}\n\n{criteria}".strip()},
                    "alignment": [
                        {
                            "type": ["Alignment"],
                            "targetName": f"{roadmap.title}, {layer.label}: {layer.title}",
                            "targetUrl": layer_url,
                            "targetFramework": roadmap.title,
                        }
                    ],
                    "roadmap": roadmap.slug,
                    "layer": layer.slug,
                    **({"level": gate.level.number} if gate.level else {}),
                    "contentVersion": request.content_version,
                },
            },
            "evidence": self.evidence_entries(),
            "credentialStatus": {
                "id": f"{status_list}#{self.status_index}",
                "type": "BitstringStatusListEntry",
                "statusPurpose": "revocation",
                "statusListIndex": str(self.status_index),
                "statusListCredential": status_list,
            },
        }

    def evidence_entries(self) -> list[dict[str, Any]]:
        """Everything the credential says about the evidence, in one place: per pinned version its
        SHA-256 and the run that speaks for it (id, grader and version, status, verdict, score,
        headline measured figures, device); per results upload its SHA-256; then the sign-off
        (reviewer, team, date, and whether it rests on an attestation rather than on the runs)."""
        request = self.request
        entries = [self._evidence_entry(e) for e in request.evidence_list()]
        approval = request.reviews.filter(decision=Review.Decision.APPROVE).select_related("reviewer").first()
        reviewer = approval.reviewer if approval else None
        team = (
            Membership.objects.reviewing()
            .filter(user=reviewer, team__memberships__user_id=request.learner_id)
            .select_related("team")
            .first()
            if reviewer
            else None
        )
        attested = approval.attested if approval else False
        sign_off: dict[str, Any] = {
            "type": ["Evidence"],
            "genre": "Sign-off",
            "name": f"Signed off by {reviewer.name if reviewer else 'a reviewer'}",
            "description": "Approved by a reviewer of the learner's team on the evidence above."
            if not attested
            else "Approved by a reviewer's attestation: the machine evidence alone did not pass.",
            "reviewer": reviewer.name if reviewer else None,
            "team": team.team.name if team else None,
            "approvedAt": credentials.timestamp(approval.created_at) if approval else None,
            "attested": attested,
            "attestationReason": approval.attestation_reason if approval and attested else None,
        }
        entries.append(sign_off)
        return [{k: v for k, v in entry.items() if v is not None} for entry in entries]

    def _evidence_entry(self, e: GateEvidence) -> dict[str, Any]:
        spec = e.artifact.spec
        about = f"{spec.code} {spec.title}: " if spec else ""
        if e.result_id:
            return {
                "type": ["Evidence"],
                "genre": "Self-reported results",
                "name": f"{about}{e.artifact.title}, self-reported results",
                "description": f"Results document with SHA-256 {e.result_sha256}, measured by the learner (self-reported).",
                "sha256": e.result_sha256,
            }
        entry: dict[str, Any] = {
            "type": ["Evidence"],
            "genre": "Artifact version",
            "name": f"{about}{e.artifact.title}, version {e.version.number}",
            "description": f"Artifact version with SHA-256 {e.sha256}.",
            "artifactVersion": e.version.number,
            "sha256": e.sha256,
        }
        run = e.run
        if run is not None:
            environment = run.environment if isinstance(run.environment, dict) else {}
            entry["run"] = {
                k: v
                for k, v in {
                    "runId": run.pk,
                    "grader": run.grader,
                    "graderVersion": run.grader_version,
                    "runStatus": e.run_status,
                    "verdictState": e.verdict_state,
                    "verdict": e.run_verdict,
                    "score": credentials.number(e.run_score),
                    "maxScore": credentials.number(e.run_max_score),
                    "sandboxed": e.run_sandboxed,
                    "device": str(environment.get("device") or "") or None,
                    "measured": [{"name": name, "value": value} for name, value in headline(run)],
                }.items()
                if v not in (None, "")
            }
        return entry

    def json(self) -> str:
        return json.dumps(self.document, indent=2, ensure_ascii=False)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def summarize(document: Any) -> dict[str, Any]:
    """What a person reads about a credential document of either format, every field checked for
    its type (the verify page shows documents people paste)."""
    doc = document if isinstance(document, dict) else {}
    subject = doc.get("credentialSubject") if isinstance(doc.get("credentialSubject"), dict) else {}
    achievement = subject.get("achievement") if isinstance(subject.get("achievement"), dict) else {}
    criteria = achievement.get("criteria") if isinstance(achievement.get("criteria"), dict) else {}
    issuer = doc.get("issuer") if isinstance(doc.get("issuer"), dict) else {}
    alignment = (
        [a for a in achievement.get("alignment") or [] if isinstance(a, dict)]
        if isinstance(achievement.get("alignment"), list)
        else []
    )
    legacy = subject.get("approval") if isinstance(subject.get("approval"), dict) else {}
    entries = (
        [e for e in doc.get("evidence") or [] if isinstance(e, dict)] if isinstance(doc.get("evidence"), list) else []
    )
    sign_off = next((e for e in entries if e.get("genre") == "Sign-off"), {})
    evidence = []
    for e in entries:
        if e is sign_off:
            continue
        run = e.get("run") if isinstance(e.get("run"), dict) else {}
        figures = run.get("measured") if isinstance(run.get("measured"), list) else []
        evidence.append(
            {
                "name": _text(e.get("name")),
                "genre": _text(e.get("genre")),
                "sha256": _text(e.get("sha256")),
                "run_id": run.get("runId", run.get("id")) if isinstance(run.get("runId", run.get("id")), int) else None,
                "grader": _text(run.get("grader")),
                "grader_version": _text(run.get("graderVersion")),
                "status": _text(run.get("runStatus", run.get("status"))),
                "verdict": _text(run.get("verdict")),
                "score": _text(run.get("score")),
                "max_score": _text(run.get("maxScore")),
                "device": _text(run.get("device")),
                "figures": [(_text(f.get("name")), _text(f.get("value"))) for f in figures if isinstance(f, dict)],
            }
        )
    return {
        "title": _text(doc.get("name")),
        "achievement": _text(achievement.get("name")),
        "description": _text(achievement.get("description")),
        "criteria": _text(criteria.get("narrative")),
        "layer_url": _text(alignment[0].get("targetUrl")) if alignment else "",
        "roadmap": _text(alignment[0].get("targetFramework")) if alignment else _text(achievement.get("roadmap")),
        "learner": _text(subject.get("name")),
        "issuer": _text(issuer.get("name")),
        "issuer_url": _text(issuer.get("url")) or _text(issuer.get("id")),
        "reviewer": _text(sign_off.get("reviewer")) or _text(legacy.get("reviewer")),
        "team": _text(sign_off.get("team")),
        "approved_at": _text(sign_off.get("approvedAt")) or _text(legacy.get("approvedAt")),
        "issued": _text(doc.get("validFrom")),
        "attested": sign_off.get("attested") is True,
        "attestation_reason": _text(sign_off.get("attestationReason")),
        "evidence": evidence,
    }
