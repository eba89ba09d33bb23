"""Signed credentials for approved gates, in the spirit of Open Badges 3.0.

A credential is an `OpenBadgeCredential`-shaped JSON document (issuer, subject, achievement with
the gate's statement and criteria, evidence by SHA-256, issuance date, an id URL on this site)
with a `DataIntegrityProof` made the way the W3C `eddsa-jcs-2022` cryptosuite makes one: the
document without its proof and the proof options (with the document's `@context`) are each
canonicalised and hashed with SHA-256, and Ed25519 signs the two hashes; the proof value is
multibase base58btc ("z..."). Canonical form here is JSON with sorted keys and no whitespace,
which is what JCS (RFC 8785) gives for the strings, integers, booleans and nulls we put in; the
builder writes fractional numbers as strings so float formatting never matters.

The signing key is `CREDENTIAL_SIGNING_KEY` (a PEM private key; the same on every web host in
production) or, in the embedded default, a key generated once into CREDENTIAL_SIGNING_KEY_FILE
(var/credential-signing-key.pem, mode 0600, never in git). Its public half is published as a
JWKS at /credentials/keys.json. Rotating the key invalidates credentials signed with the old one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

if TYPE_CHECKING:
    from datetime import datetime

    from assessments.models import Credential, GateRequest

CONTEXT = [
    "https://www.w3.org/ns/credentials/v2",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
]
CRYPTOSUITE = "eddsa-jcs-2022"
_ID = re.compile(r"/credentials/([0-9a-fA-F-]{36})/?$")
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


# --- the key -----------------------------------------------------------------------------------


def signing_key() -> Ed25519PrivateKey:
    pem = settings.CREDENTIAL_SIGNING_KEY.replace("\\n", "\n").strip()
    data = pem.encode() if pem else _key_file(Path(settings.CREDENTIAL_SIGNING_KEY_FILE))
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(
            "CREDENTIAL_SIGNING_KEY must be an Ed25519 private key in PEM (openssl genpkey -algorithm ed25519)"
        )
    return key


def _key_file(path: Path) -> bytes:
    """The embedded default: read the key, creating it (readable by this user only) the first time."""
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_bytes()
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return data


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(_raw_public(key)).hexdigest()[:16]


def jwks() -> dict[str, Any]:
    public = signing_key().public_key()
    x = base64.urlsafe_b64encode(_raw_public(public)).rstrip(b"=").decode()
    return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": key_id(public), "use": "sig", "alg": "EdDSA"}]}


def _site() -> str:
    return settings.SITE_URL.rstrip("/")


def verification_method(public: Ed25519PublicKey) -> str:
    return f"{_site()}{reverse('gates:credential-keys')}#{key_id(public)}"


# --- canonical form and base58 -----------------------------------------------------------------


def canonical(value: Any) -> bytes:
    _refuse_floats(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _refuse_floats(value: Any) -> None:
    if isinstance(value, float):
        raise TypeError("credential documents hold no floats; write fractional numbers as strings")
    if isinstance(value, dict):
        for item in value.values():
            _refuse_floats(item)
    elif isinstance(value, list):
        for item in value:
            _refuse_floats(item)


def b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = _B58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def b58decode(text: str) -> bytes:
    n = 0
    for char in text:
        n = n * 58 + _B58.index(char)  # ValueError on a character outside the alphabet
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def _signed_bytes(document: dict[str, Any], options: dict[str, Any]) -> bytes:
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    config = {**{k: v for k, v in options.items() if k != "proofValue"}, "@context": document.get("@context")}
    return hashlib.sha256(canonical(config)).digest() + hashlib.sha256(canonical(unsigned)).digest()


# --- building, signing, verifying -------------------------------------------------------------


def _when(value: datetime) -> str:
    return value.astimezone(timezone.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(value: float | None) -> str | None:
    return None if value is None else f"{value:g}"


def build(credential: Credential, request: GateRequest) -> dict[str, Any]:
    """The unsigned document for an approved request (evidence as pinned when it was submitted)."""
    gate = request.gate
    layer = gate.layer
    roadmap = layer.roadmap
    approval = request.reviews.filter(decision="approve").select_related("reviewer").first()
    evidence = []
    for e in request.evidence_list():
        item: dict[str, Any] = {"type": ["Evidence"], "name": e.artifact.title}
        if e.version_id:
            item["name"] = f"{e.artifact.title}, version {e.version.number}"
            item["description"] = f"Artifact version with SHA-256 {e.sha256}."
            item["sha256"] = e.sha256
        if e.run_id:
            item["run"] = {
                "id": e.run_id,
                "status": e.run_status,
                "verdict": e.run_verdict,
                "score": _number(e.run_score),
                "maxScore": _number(e.run_max_score),
                "sandboxed": e.run_sandboxed,
            }
        if e.result_id:
            item["name"] = f"{e.artifact.title}, self-reported results"
            item["description"] = f"Results document with SHA-256 {e.result_sha256} (self-reported)."
            item["sha256"] = e.result_sha256
        evidence.append(item)
    return {
        "@context": CONTEXT,
        "id": f"{_site()}{credential.get_absolute_url()}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": f"{roadmap.title}: {layer.label} gate approved",
        "issuer": {"id": f"{_site()}/", "type": ["Profile"], "name": "Layerwise"},
        "validFrom": _when(credential.issued_at),
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "name": request.learner.name,
            "achievement": {
                "id": f"{_site()}{layer.get_absolute_url()}#gate",
                "type": ["Achievement"],
                "achievementType": "Competency",
                "name": f"{layer.label}: {layer.title}",
                "description": gate.statement.strip(),
                "criteria": {"narrative": "\n".join(f"- {item['criterion']}" for item in request.checklist)},
                "roadmap": roadmap.slug,
                "layer": layer.slug,
                "level": gate.level.number if gate.level else None,
                "contentVersion": request.content_version,
            },
            "approval": {
                "request": request.pk,
                "reviewer": approval.reviewer.name if approval and approval.reviewer else None,
                "approvedAt": _when(approval.created_at) if approval else None,
            },
        },
        "evidence": evidence,
    }


def sign(document: dict[str, Any]) -> dict[str, Any]:
    key = signing_key()
    options = {
        "type": "DataIntegrityProof",
        "cryptosuite": CRYPTOSUITE,
        "created": _when(timezone.now()),
        "verificationMethod": verification_method(key.public_key()),
        "proofPurpose": "assertionMethod",
    }
    signature = key.sign(_signed_bytes(document, options))
    return {**document, "proof": {**options, "proofValue": "z" + b58encode(signature)}}


@dataclass
class Verdict:
    state: str  # valid | invalid | revoked
    reasons: list[str] = field(default_factory=list)
    credential: Credential | None = None
    document: dict[str, Any] | None = None

    @property
    def is_valid(self) -> bool:
        return self.state == "valid"


def credential_uuid(text: str) -> uuid.UUID | None:
    """A credential's id from its UUID or its URL (what people paste)."""
    text = text.strip()
    match = _ID.search(text)
    try:
        return uuid.UUID(match.group(1) if match else text)
    except ValueError:
        return None


def verify(document: Any) -> Verdict:
    """Check the signature against this site's key, then that the credential was issued here and
    is not revoked. Every failure says which check failed."""
    from assessments.models import Credential

    if not isinstance(document, dict) or not isinstance(document.get("proof"), dict):
        return Verdict("invalid", ["This is not a signed credential: it has no proof."])
    proof = document["proof"]
    public = signing_key().public_key()
    if proof.get("type") != "DataIntegrityProof" or proof.get("cryptosuite") != CRYPTOSUITE:
        return Verdict("invalid", [f"The proof is not a DataIntegrityProof with the {CRYPTOSUITE} cryptosuite."])
    if not str(proof.get("verificationMethod", "")).endswith(f"#{key_id(public)}"):
        return Verdict("invalid", ["It was signed with a key this site does not publish (see /credentials/keys.json)."])
    value = str(proof.get("proofValue", ""))
    try:
        signature = b58decode(value[1:]) if value.startswith("z") else b""
        public.verify(signature, _signed_bytes(document, proof))
    except (InvalidSignature, ValueError, TypeError):
        return Verdict(
            "invalid", ["The signature does not match the content: the credential was changed after it was issued."]
        )
    pk = credential_uuid(str(document.get("id", "")))
    credential = Credential.objects.filter(pk=pk).first() if pk else None
    if credential is None:
        return Verdict(
            "invalid",
            [
                "The signature is ours, but this site holds no credential with this id (the learner may have deleted it)."
            ],
            document=document,
        )
    if credential.document != document:
        return Verdict("invalid", ["This is not the document that was issued under this id."], credential, document)
    if credential.is_revoked:
        reason = credential.revoked_reason or "no reason recorded"
        return Verdict("revoked", [f"Revoked on {_when(credential.revoked_at)}: {reason}"], credential, document)  # type: ignore[arg-type]
    return Verdict(
        "valid",
        ["The signature matches this site's key and the credential has not been revoked."],
        credential,
        document,
    )
