"""This site's credential key, the URLs that publish it, and the two credential formats.

Credentials are Open Badges 3.0 `OpenBadgeCredential`s (W3C Verifiable Credentials 2.0) with a
`DataIntegrityProof` made with the `eddsa-rdfc-2022` cryptosuite (assessments/dataintegrity.py).
The issuer is this site, a `Profile` at /credentials/issuer; the proof's verificationMethod is a
`Multikey` at /credentials/keys/<key id>, both plain https URLs (no DID). Revocation is a W3C
Bitstring Status List credential the site serves at /credentials/status/revocation.

Credentials issued before Open Badges 3.0 ("legacy": our own format, proof type DataIntegrityProof
with cryptosuite "eddsa-jcs-2022" over JSON with sorted keys, not the W3C suite of that name) keep
verifying through `legacy_signature_problem`; `format_of` tells them apart.

The signing key is `CREDENTIAL_SIGNING_KEY` (a PEM private key; the same on every web host in
production) or, in the embedded default, a key generated once into CREDENTIAL_SIGNING_KEY_FILE
(var/credential-signing-key.pem, mode 0600, never in git). Its public half is published as a
Multikey and, for the legacy format, as a JWKS at /credentials/keys.json. Rotating the key
invalidates credentials signed with the old one.

This module knows documents and keys only, never the database: the Credential model
(assessments/models/credentials.py) builds a request's document, issues it, and checks that a
document whose proof holds was issued here and is not revoked. It imports this module; not the reverse.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from assessments import dataintegrity
from assessments.dataintegrity import OB_CONTEXT, VC_CONTEXT, ProofError, b58decode
from portfolio.runner import jsondoc

OB3 = "ob3"
LEGACY = "legacy"
FORMATS = {
    OB3: "Open Badges 3.0 (W3C Verifiable Credential 2.0, Data Integrity proof eddsa-rdfc-2022)",
    LEGACY: "Layerwise's first format (signed JSON, issued before Open Badges 3.0)",
}
LEGACY_CONTEXT = [VC_CONTEXT, OB_CONTEXT]
LEGACY_CRYPTOSUITE = "eddsa-jcs-2022"
CONTROLLER_CONTEXT = "https://www.w3.org/ns/cid/v1"
_ID = re.compile(r"/credentials/([0-9a-fA-F-]{36})/?$")


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


# --- where the site publishes its issuer, key and status list -----------------------------------


def site_url() -> str:
    return settings.SITE_URL.rstrip("/")


def issuer_url() -> str:
    return f"{site_url()}{reverse('gates:credential-issuer')}"


def key_url(public: Ed25519PublicKey) -> str:
    return f"{site_url()}{reverse('gates:credential-key', args=[key_id(public)])}"


def status_list_url() -> str:
    return f"{site_url()}{reverse('gates:credential-status')}"


def multikey() -> dict[str, Any]:
    """The public key as a Multikey verification method (W3C Controlled Identifiers 1.0)."""
    public = signing_key().public_key()
    return {
        "@context": CONTROLLER_CONTEXT,
        "id": key_url(public),
        "type": "Multikey",
        "controller": issuer_url(),
        "publicKeyMultibase": dataintegrity.public_multibase(public),
    }


def issuer_profile() -> dict[str, Any]:
    """The issuer: an Open Badges `Profile` that lists the key it signs with."""
    key = {k: v for k, v in multikey().items() if k != "@context"}
    return {
        "@context": [VC_CONTEXT, OB_CONTEXT, CONTROLLER_CONTEXT],
        "id": issuer_url(),
        "type": ["Profile"],
        "name": "Layerwise",
        "url": f"{site_url()}/",
        "description": "Layerwise signs the evaluation gates its reviewers approve, with the evidence they were approved on.",
        "verificationMethod": [key],
        "assertionMethod": [key["id"]],
    }


def context() -> list[Any]:
    """The @context of a credential: VC 2.0, Open Badges 3.0.3, and the terms this site adds for
    its evidence (each defined, so the proof covers it), in the issuer's namespace."""
    return [
        VC_CONTEXT,
        OB_CONTEXT,
        {
            "lw": f"{issuer_url()}#",
            "xsd": "http://www.w3.org/2001/XMLSchema#",
            "sha256": "lw:sha256",
            "artifactVersion": "lw:artifactVersion",
            "run": "lw:run",
            "runId": "lw:runId",
            "runStatus": "lw:runStatus",
            "verdictState": "lw:verdictState",
            "grader": "lw:grader",
            "graderVersion": "lw:graderVersion",
            "verdict": "lw:verdict",
            "score": "lw:score",
            "maxScore": "lw:maxScore",
            "sandboxed": "lw:sandboxed",
            "device": "lw:device",
            "measured": {"@id": "lw:measured", "@container": "@list"},
            "value": "lw:value",
            "reviewer": "lw:reviewer",
            "team": "lw:team",
            "approvedAt": {"@id": "lw:approvedAt", "@type": "xsd:dateTime"},
            "attested": "lw:attested",
            "attestationReason": "lw:attestationReason",
            "roadmap": "lw:roadmap",
            "layer": "lw:layer",
            "level": "lw:level",
            "contentVersion": "lw:contentVersion",
        },
    ]


# --- values in documents, signing, checking a proof ---------------------------------------------


def timestamp(value: datetime) -> str:
    return value.astimezone(timezone.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def number(value: float | None) -> str | None:
    """A fractional number as the string documents hold: no float formatting in a signed document."""
    return None if value is None else f"{value:g}"


def sign(document: dict[str, Any]) -> dict[str, Any]:
    key = signing_key()
    options = dataintegrity.proof_options(
        verification_method=key_url(key.public_key()), created=timestamp(timezone.now())
    )
    return dataintegrity.sign(document, key, options, as_set=True)  # OB 3.0's schema wants an array


def format_of(document: Any) -> str:
    """OB3, LEGACY, or "" for a document that is neither (no proof, another cryptosuite)."""
    proof = dataintegrity.the_proof(document)
    suite = proof.get("cryptosuite") if proof is not None else None
    return {dataintegrity.CRYPTOSUITE: OB3, LEGACY_CRYPTOSUITE: LEGACY}.get(suite, "") if isinstance(suite, str) else ""


def credential_uuid(text: str) -> uuid.UUID | None:
    """A credential's id from its UUID or its URL (what people paste)."""
    text = text.strip()
    match = _ID.search(text)
    try:
        return uuid.UUID(match.group(1) if match else text)
    except ValueError:
        return None


def proof_problem(document: dict[str, Any]) -> ProofError | None:
    """Why `document`'s Open Badges 3.0 proof does not hold with this site's key, or None."""
    public = signing_key().public_key()
    proof = dataintegrity.the_proof(document) or {}
    if proof.get("verificationMethod") != key_url(public):
        return ProofError(f"It was signed with a key this site does not publish (this site's is {key_url(public)}).")
    try:
        dataintegrity.verify(document, public)
    except ProofError as exc:
        return exc
    return None


# --- the legacy format --------------------------------------------------------------------------


def _legacy_canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _legacy_signed_bytes(document: dict[str, Any], options: dict[str, Any]) -> bytes:
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    config = {**{k: v for k, v in options.items() if k != "proofValue"}, "@context": document.get("@context")}
    return hashlib.sha256(_legacy_canonical(config)).digest() + hashlib.sha256(_legacy_canonical(unsigned)).digest()


def legacy_signature_problem(document: dict[str, Any]) -> ProofError | None:
    """Why a document in the legacy format is not signed with this site's key, or None."""
    proof = document["proof"]
    if not isinstance(proof, dict):
        return ProofError("Its proof is not an object, as the legacy format writes it.")
    public = signing_key().public_key()
    if not str(proof.get("verificationMethod", "")).endswith(f"#{key_id(public)}"):
        return ProofError("It was signed with a key this site does not publish (see /credentials/keys.json).")
    value = str(proof.get("proofValue", ""))
    try:
        signature = b58decode(value[1:]) if value.startswith("z") else b""
        public.verify(signature, _legacy_signed_bytes(document, proof))
    except (InvalidSignature, ValueError, TypeError):
        return ProofError(
            "The signature does not match the content: the credential was changed after it was issued.", tampered=True
        )
    return None


# --- what people paste --------------------------------------------------------------------------

MAX_BYTES = 256 * 1024  # an issued credential is a few KiB
MAX_DEPTH = 24  # an issued credential nests 6 deep
MAX_VALUES = 5_000
MAX_INTEGER = 2**53  # beyond this JSON numbers stop being exact in most verifiers


def parse_document(text: str) -> tuple[Any, str]:
    """(document, "") from pasted or uploaded JSON, or (None, why not) in words for people when it
    is too big or `shape_problem` refuses it. JSON is read by `jsondoc`, the one reader of outside
    documents: what it cannot read (not JSON, with the line; NaN or Infinity; integers outside
    +-2**53; nesting; text limits) raises jsondoc.DocumentRefused naming the field, which the
    verifier page shows as a form error. The credential's own, tighter limits (size, depth, number
    of values, exact numbers) are `shape_problem`'s."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        return None, f"The credential is larger than {MAX_BYTES // 1024} KiB; an issued one is a few KiB."
    document = jsondoc.loads(text, field="credential", max_bytes=MAX_BYTES)
    return document, shape_problem(document)


def shape_problem(document: Any) -> str:
    """Why a parsed document is refused by `jsondoc.check`, or is too deep or too large for a
    credential, or holds numbers no verifier reads exactly; "" when none of these. Checked before
    any JSON-LD processing, which recurses and canonicalises at a cost."""
    if not isinstance(document, dict):
        return "A credential is a JSON object ({ ... }); this is not one."
    try:
        jsondoc.check(document, field="credential")
    except jsondoc.DocumentRefused as exc:
        return _refusal(exc)
    stack: list[tuple[Any, int, str]] = [(document, 1, "")]
    seen = 0
    while stack:
        value, depth, path = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            return f"The credential holds more than {MAX_VALUES:,} values; an issued one holds a few hundred."
        if depth > MAX_DEPTH:
            return f"The JSON is nested too deeply at {path} (more than {MAX_DEPTH} levels)."
        # jsondoc bounds integers at 2**53 already; a float past it is finite but not exact.
        if isinstance(value, float) and not abs(value) <= MAX_INTEGER:
            return f"The number at {path} is too large to be read exactly (more than 2^53)."
        if isinstance(value, dict):
            stack.extend((item, depth + 1, f"{path}.{key}" if path else str(key)) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((item, depth + 1, f"{path}[{i}]") for i, item in enumerate(value))
    return ""


def _refusal(exc: jsondoc.DocumentRefused) -> str:
    if exc.path:
        return f"The value at {exc.path} {exc.reason}."
    return f"The credential {exc.reason}."


def readable_date(value: Any) -> str:
    """An ISO 8601 date-time from a credential document as people read it, in UTC: "7 December 2026,
    21:34 UTC". A date alone stays a date; anything that does not parse (a tampered document's)
    comes back as it was."""
    text = str(value or "")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if "T" not in text:
        return f"{moment.day} {moment:%B %Y}"
    if moment.tzinfo is None:
        return f"{moment.day} {moment:%B %Y, %H:%M}"
    return f"{moment.astimezone(UTC).day} {moment.astimezone(UTC):%B %Y, %H:%M} UTC"
