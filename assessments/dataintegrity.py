"""Data Integrity proofs with the `eddsa-rdfc-2022` cryptosuite, and the Bitstring Status List.

What W3C's "Data Integrity EdDSA Cryptosuites v1.0" (vc-di-eddsa) says a proof is, section 3.3:
the document without its proof and the proof's options (with the document's `@context`) are each
turned into RDF and canonicalised with RDF Dataset Canonicalization (RDFC-1.0, the algorithm pyld
calls URDNA2015), each hashed with SHA-256, and Ed25519 signs the proof hash followed by the
document hash; the proof value is multibase base58btc ("z..."). tests/assessments/
test_data_integrity.py checks this module against the specification's published test vectors.

JSON-LD contexts are never fetched: `ShippedContexts` serves the files in assessments/contexts/
(the W3C Verifiable Credentials 2.0 and Open Badges 3.0.3 contexts, see the README there) and
refuses every other URL. Canonicalisation also refuses a document with a field no context defines
(the "safe mode" of the JavaScript libraries): such a field would vanish from the RDF, so the proof
would not cover it and anyone could change it.

The Bitstring Status List (W3C, "Bitstring Status List v1.0") is a GZIP-compressed bitstring, bit
0 the most significant bit of the first byte, written as multibase base64url ("u...").

Pure: no Django, no database, no settings. assessments/credentials.py holds this site's key.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pyld.jsonld import JsonLdError, JsonLdProcessor

CRYPTOSUITE = "eddsa-rdfc-2022"
VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CONTEXT_DIR = Path(__file__).with_name("contexts")
SHIPPED = {VC_CONTEXT: "credentials-v2.jsonld", OB_CONTEXT: "ob-context-3.0.3.json"}

STATUS_LIST_BITS = 131_072  # the specification's minimum: 16 KiB, so one entry hides among many
_MULTICODEC_ED25519_PUB = b"\xed\x01"
_MULTICODEC_ED25519_PRIV = b"\x80\x26"
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


class ProofError(ValueError):
    """Why a document cannot be canonicalised or its proof does not hold, in words for people.
    `tampered` is True when the proof is well formed and made by the key, but not over this content."""

    def __init__(self, message: str, *, tampered: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.tampered = tampered


# --- base58btc and multibase keys ---------------------------------------------------------------


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


def public_multibase(key: Ed25519PublicKey) -> str:
    """The key as a Multikey's publicKeyMultibase: "z" + base58btc(0xed01 + the 32 raw bytes)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "z" + b58encode(_MULTICODEC_ED25519_PUB + raw)


def public_key_from_multibase(value: str) -> Ed25519PublicKey:
    data = b58decode(value[1:]) if value.startswith("z") else b""
    if not data.startswith(_MULTICODEC_ED25519_PUB) or len(data) != 34:
        raise ValueError("not an Ed25519 publicKeyMultibase")
    return Ed25519PublicKey.from_public_bytes(data[2:])


def private_key_from_multibase(value: str) -> Ed25519PrivateKey:
    data = b58decode(value[1:]) if value.startswith("z") else b""
    if not data.startswith(_MULTICODEC_ED25519_PRIV) or len(data) != 34:
        raise ValueError("not an Ed25519 secretKeyMultibase")
    return Ed25519PrivateKey.from_private_bytes(data[2:])


# --- contexts and canonical form ----------------------------------------------------------------


class ShippedContexts:
    """A pyld document loader that serves the contexts shipped in assessments/contexts/ (and any
    `extra` ones given as {url: document}) and refuses every other URL without fetching it."""

    def __init__(self, extra: Mapping[str, Any] | None = None) -> None:
        self.documents: dict[str, Any] = {
            url: json.loads((CONTEXT_DIR / name).read_text()) for url, name in SHIPPED.items()
        }
        self.documents.update(extra or {})
        self.refused: list[str] = []

    def __call__(self, url: str, options: dict[str, Any]) -> dict[str, Any]:
        if url not in self.documents:
            self.refused.append(url)
            raise LookupError(f"context {url} is not shipped with this site")
        return {
            "contentType": "application/ld+json",
            "contextUrl": None,
            "documentUrl": url,
            "document": self.documents[url],
        }


_DEFAULT_LOADER: ShippedContexts | None = None


def shipped_contexts() -> ShippedContexts:
    global _DEFAULT_LOADER  # noqa: PLW0603  the files are read once per process
    if _DEFAULT_LOADER is None:
        _DEFAULT_LOADER = ShippedContexts()
    return _DEFAULT_LOADER


def canonicalize(document: Any, loader: ShippedContexts | None = None) -> str:
    """The document as canonical N-Quads (RDFC-1.0), or ProofError saying why it has none."""
    loader = loader or shipped_contexts()
    loader.refused.clear()
    dropped: list[str] = []
    processor = JsonLdProcessor(on_property_dropped=lambda key: dropped.append(str(key)))
    options = {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": loader, "base": ""}
    try:
        nquads = processor.normalize(document, options)
    except JsonLdError as exc:
        if loader.refused:
            raise ProofError(
                f"It uses the JSON-LD context {loader.refused[0]}, which this site does not ship or fetch."
            ) from None
        raise ProofError(f"It is not valid JSON-LD ({_jsonld_reason(exc)}).") from None
    except (OverflowError, ValueError, TypeError, RecursionError) as exc:
        raise ProofError(f"It is not valid JSON-LD ({type(exc).__name__}).") from None
    if dropped:
        names = ", ".join(sorted({name for name in dropped if name != "None"})) or "a field"
        raise ProofError(
            f"It has fields no JSON-LD context defines ({names}): a proof would not cover them.", tampered=True
        )
    return str(nquads)


def _jsonld_reason(exc: JsonLdError) -> str:
    """The innermost message of pyld's chain of errors, which is the one that names the problem."""
    cause: BaseException = exc
    while cause.__cause__ is not None:
        cause = cause.__cause__
    return str(getattr(cause, "message", "") or cause).splitlines()[0][:200]


# --- proofs -------------------------------------------------------------------------------------


def proof_options(*, verification_method: str, created: str) -> dict[str, Any]:
    return {
        "type": "DataIntegrityProof",
        "cryptosuite": CRYPTOSUITE,
        "created": created,
        "verificationMethod": verification_method,
        "proofPurpose": "assertionMethod",
    }


def hash_data(document: Mapping[str, Any], options: Mapping[str, Any], loader: ShippedContexts | None = None) -> bytes:
    """vc-di-eddsa 3.3.4: SHA-256 of the canonical proof configuration, then of the canonical
    document, each without the proof value; the configuration carries the document's context."""
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    config = {**{k: v for k, v in options.items() if k != "proofValue"}, "@context": document.get("@context")}
    proof_hash = hashlib.sha256(canonicalize(config, loader).encode()).digest()
    document_hash = hashlib.sha256(canonicalize(unsigned, loader).encode()).digest()
    return proof_hash + document_hash


def sign(
    document: Mapping[str, Any],
    key: Ed25519PrivateKey,
    options: Mapping[str, Any],
    loader: ShippedContexts | None = None,
    *,
    as_set: bool = False,
) -> dict[str, Any]:
    """The document with its proof: an object, or with `as_set` a proof set of one."""
    signature = key.sign(hash_data(document, options, loader))
    proof = {**options, "proofValue": "z" + b58encode(signature)}
    return {**document, "proof": [proof] if as_set else proof}


def the_proof(document: Any) -> dict[str, Any] | None:
    """A document's one proof: its `proof` object, or the only member of a proof set of one (Open
    Badges 3.0's schema writes `proof` as an array). None for no proof, or a set of several."""
    proof = document.get("proof") if isinstance(document, dict) else None
    if isinstance(proof, list) and len(proof) == 1:
        proof = proof[0]
    return proof if isinstance(proof, dict) else None


def verify(document: Any, key: Ed25519PublicKey, loader: ShippedContexts | None = None) -> None:
    """Raise ProofError unless `document` carries an eddsa-rdfc-2022 proof by `key` over its content.
    Which key the proof names (its verificationMethod) is the caller's check."""
    proof = the_proof(document)
    if proof is None:
        raise ProofError("It has no proof, or more than one.")
    if proof.get("type") != "DataIntegrityProof" or proof.get("cryptosuite") != CRYPTOSUITE:
        raise ProofError(f"The proof is not a DataIntegrityProof with the {CRYPTOSUITE} cryptosuite.")
    if proof.get("proofPurpose") != "assertionMethod":
        raise ProofError("The proof's purpose is not assertionMethod.")
    value = proof.get("proofValue")
    try:
        signature = b58decode(value[1:]) if isinstance(value, str) and value.startswith("z") else b""
    except ValueError:
        signature = b""
    if len(signature) != 64:
        raise ProofError("The proof value is not a base58btc Ed25519 signature.")
    data = hash_data(document, proof, loader)
    try:
        key.verify(signature, data)
    except InvalidSignature:
        raise ProofError(
            "The signature does not match the content: the credential was changed after it was issued.", tampered=True
        ) from None


# --- bitstring status lists ---------------------------------------------------------------------


def encode_status_list(indexes: Iterable[int], size: int = STATUS_LIST_BITS) -> str:
    """The encodedList of a status list in which the bits at `indexes` are set."""
    bits = bytearray(size // 8)
    for index in indexes:
        bits[index // 8] |= 0x80 >> (index % 8)
    compressed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode()


def status_bit(encoded: str, index: int, size: int = STATUS_LIST_BITS) -> bool:
    """Whether the bit at `index` is set; ValueError for a list that is not one (or is a bomb)."""
    if not encoded.startswith("u") or not 0 <= index < size:
        raise ValueError("not a multibase base64url status list, or the index is outside it")
    data = base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4))
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    bits = inflater.decompress(data, size // 8 + 1)
    if len(bits) != size // 8:
        raise ValueError(f"the status list is not {size} bits long")
    return bool(bits[index // 8] & (0x80 >> (index % 8)))
