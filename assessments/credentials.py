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

This module knows documents and keys only, never the database: the Credential model
(assessments/models/records.py) builds a request's document, issues it, and checks that a document
whose signature holds was issued here and is not revoked. It imports this module; not the reverse.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import uuid
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


def site_url() -> str:
    return settings.SITE_URL.rstrip("/")


def verification_method(public: Ed25519PublicKey) -> str:
    return f"{site_url()}{reverse('gates:credential-keys')}#{key_id(public)}"


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


# --- values in documents, signing, checking a signature ---------------------------------------


def timestamp(value: datetime) -> str:
    return value.astimezone(timezone.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def number(value: float | None) -> str | None:
    """A fractional number as the string documents hold (see canonical)."""
    return None if value is None else f"{value:g}"


def sign(document: dict[str, Any]) -> dict[str, Any]:
    key = signing_key()
    options = {
        "type": "DataIntegrityProof",
        "cryptosuite": CRYPTOSUITE,
        "created": timestamp(timezone.now()),
        "verificationMethod": verification_method(key.public_key()),
        "proofPurpose": "assertionMethod",
    }
    signature = key.sign(_signed_bytes(document, options))
    return {**document, "proof": {**options, "proofValue": "z" + b58encode(signature)}}


def credential_uuid(text: str) -> uuid.UUID | None:
    """A credential's id from its UUID or its URL (what people paste)."""
    text = text.strip()
    match = _ID.search(text)
    try:
        return uuid.UUID(match.group(1) if match else text)
    except ValueError:
        return None


def signature_problem(document: Any) -> str:
    """Why `document` is not signed with this site's key, or "" when its proof holds. Whether this
    site issued it and still stands by it is the other half (Credential.objects.verify)."""
    if not isinstance(document, dict) or not isinstance(document.get("proof"), dict):
        return "This is not a signed credential: it has no proof."
    proof = document["proof"]
    public = signing_key().public_key()
    if proof.get("type") != "DataIntegrityProof" or proof.get("cryptosuite") != CRYPTOSUITE:
        return f"The proof is not a DataIntegrityProof with the {CRYPTOSUITE} cryptosuite."
    if not str(proof.get("verificationMethod", "")).endswith(f"#{key_id(public)}"):
        return "It was signed with a key this site does not publish (see /credentials/keys.json)."
    value = str(proof.get("proofValue", ""))
    try:
        signature = b58decode(value[1:]) if value.startswith("z") else b""
        public.verify(signature, _signed_bytes(document, proof))
    except (InvalidSignature, ValueError, TypeError):
        return "The signature does not match the content: the credential was changed after it was issued."
    return ""
