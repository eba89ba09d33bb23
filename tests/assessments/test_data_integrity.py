"""assessments/dataintegrity.py against the W3C vc-di-eddsa test vectors (eddsa-rdfc-2022), and
the bitstring status list encoding. The vectors are in tests/assessments/data/vc-di-eddsa/ (see
the README there for where each file comes from)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from django.test import SimpleTestCase

from assessments import dataintegrity
from assessments.dataintegrity import ProofError, ShippedContexts

VECTORS = Path(__file__).parent / "data" / "vc-di-eddsa"
EXAMPLES_CONTEXT = "https://www.w3.org/ns/credentials/examples/v2"


def vector(name: str) -> str:
    return (VECTORS / name).read_text()


def loader() -> ShippedContexts:
    return ShippedContexts({EXAMPLES_CONTEXT: json.loads(vector("credentials-examples-v2.jsonld"))})


class VcDiEddsaVectorTests(SimpleTestCase):
    def setUp(self):
        keys = json.loads(vector("keyPair.json"))
        self.private = dataintegrity.private_key_from_multibase(keys["privateKeyMultibase"])
        self.public = dataintegrity.public_key_from_multibase(keys["publicKeyMultibase"])
        self.unsigned = json.loads(vector("unsigned.json"))
        self.config = json.loads(vector("proofConfigDataInt.json"))
        self.signed = json.loads(vector("signedDataInt.json"))

    def test_the_key_pair_round_trips_through_multibase(self):
        keys = json.loads(vector("keyPair.json"))
        assert dataintegrity.public_multibase(self.private.public_key()) == keys["publicKeyMultibase"]

    def test_the_document_and_the_proof_configuration_canonicalise_as_published(self):
        assert dataintegrity.canonicalize(self.unsigned, loader()) == vector("canonDocDataInt.txt")
        assert dataintegrity.canonicalize(self.config, loader()) == vector("proofCanonDataInt.txt")
        assert (
            hashlib.sha256(vector("canonDocDataInt.txt").encode()).hexdigest() == vector("docHashDataInt.txt").strip()
        )

    def test_the_hashes_and_the_signature_are_the_published_ones(self):
        options = {k: v for k, v in self.config.items() if k != "@context"}
        data = dataintegrity.hash_data(self.unsigned, options, loader())
        assert data.hex() == vector("combinedHashDataInt.txt").strip()
        signed = dataintegrity.sign(self.unsigned, self.private, options, loader())
        assert self.private.sign(data).hex() == vector("sigHexDataInt.txt").strip()
        assert signed == self.signed
        assert signed["proof"]["proofValue"] == vector("sigBTC58DataInt.txt").strip()

    def test_the_published_signed_credential_verifies_and_a_changed_one_does_not(self):
        dataintegrity.verify(self.signed, self.public, loader())
        changed = {**self.signed, "credentialSubject": {**self.signed["credentialSubject"], "alumniOf": "Elsewhere"}}
        with self.assertRaises(ProofError) as caught:
            dataintegrity.verify(changed, self.public, loader())
        assert caught.exception.tampered

    def test_a_context_that_is_not_shipped_is_refused_not_fetched(self):
        with self.assertRaises(ProofError) as caught:
            dataintegrity.canonicalize(self.unsigned)  # the examples context is test data, not shipped
        assert EXAMPLES_CONTEXT in caught.exception.message and "does not ship" in caught.exception.message

    def test_a_field_no_context_defines_is_refused(self):
        document = {"@context": [dataintegrity.VC_CONTEXT], "type": ["VerifiableCredential"], "sneaky": "unsigned"}
        with self.assertRaises(ProofError) as caught:
            dataintegrity.canonicalize(document)
        assert "sneaky" in caught.exception.message


class StatusListTests(SimpleTestCase):
    def test_set_bits_read_back_and_the_rest_are_clear(self):
        encoded = dataintegrity.encode_status_list([0, 7, 8, 131_071])
        assert encoded.startswith("u")
        for index in (0, 7, 8, 131_071):
            assert dataintegrity.status_bit(encoded, index)
        for index in (1, 6, 9, 65_536, 131_070):
            assert not dataintegrity.status_bit(encoded, index)

    def test_bit_zero_is_the_leftmost_bit_of_the_first_byte(self):
        import base64
        import gzip

        encoded = dataintegrity.encode_status_list([0])
        raw = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
        assert raw[0] == 0x80 and len(raw) == 16 * 1024

    def test_an_index_outside_the_list_or_a_list_of_the_wrong_size_is_refused(self):
        with self.assertRaises(ValueError):
            dataintegrity.status_bit(dataintegrity.encode_status_list([]), 131_072)
        with self.assertRaises(ValueError):
            dataintegrity.status_bit(dataintegrity.encode_status_list([], size=64 * 8), 1)

    def test_base58_round_trips(self):
        for data in (b"", b"\0\0abc", bytes(range(64))):
            assert dataintegrity.b58decode(dataintegrity.b58encode(data)) == data
