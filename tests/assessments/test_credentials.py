from __future__ import annotations

import copy
import json
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.test import TestCase, override_settings
from django.urls import reverse

from assessments import credentials
from assessments.models import AuditEvent, Credential, GateError
from tests.assessments.gates import GateWorld
from tests.factories import create_gate_request


def leaves(value, path=()):
    """Every (path, leaf) of a JSON document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from leaves(item, (*path, i))
    else:
        yield path, value


def changed(document, path):
    tampered = copy.deepcopy(document)
    target = tampered
    for key in path[:-1]:
        target = target[key]
    value = target[path[-1]]
    target[path[-1]] = (
        value + "x" if isinstance(value, str) else (not value if isinstance(value, bool) else (value or 0) + 1)
    )
    return tampered


class CredentialTests(GateWorld, TestCase):
    def setUp(self):
        self.request = create_gate_request(learner=self.learner, gate=self.gate, versions=(self.version,), submit=True)
        self.request.approve(by=self.reviewer, marks=["met", "met"])
        self.credential = self.request.issue_credential(by=self.learner)
        self.document = self.credential.document

    def test_the_credential_says_who_did_what_with_which_evidence(self):
        doc = self.document
        assert doc["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
        assert doc["id"].endswith(f"/credentials/{self.credential.pk}/")
        subject = doc["credentialSubject"]
        assert subject["name"] == "Lena Learner" and subject["approval"]["reviewer"] == "Rita Reviewer"
        assert subject["achievement"]["criteria"]["narrative"] == "- explains the mechanism\n- measured it"
        assert (subject["achievement"]["roadmap"], subject["achievement"]["layer"]) == ("llm", "kv-cache")
        (evidence,) = doc["evidence"]
        assert evidence["sha256"] == self.version.sha256
        assert evidence["run"] == {
            "id": self.passing_run.pk,
            "status": "succeeded",
            "verdict": "passed",
            "score": "1",
            "maxScore": "1",
            "sandboxed": True,
        }
        assert doc["proof"]["cryptosuite"] == "eddsa-jcs-2022" and doc["proof"]["proofValue"].startswith("z")
        assert AuditEvent.objects.filter(request_id=self.request.pk, action="credential_issued").exists()

    def test_a_fresh_credential_verifies(self):
        verdict = Credential.objects.verify(self.document)
        assert verdict.state == "valid" and verdict.credential == self.credential

    def test_changing_any_field_breaks_the_signature(self):
        paths = [path for path, _ in leaves(self.document) if path != ("proof", "proofValue")]
        assert len(paths) > 30
        for path in paths:
            with self.subTest(path=path):
                verdict = Credential.objects.verify(changed(self.document, path))
                assert verdict.state == "invalid", path

    def test_a_changed_signature_or_a_missing_proof_is_invalid(self):
        forged = copy.deepcopy(self.document)
        value = forged["proof"]["proofValue"]
        forged["proof"]["proofValue"] = value[:-2] + ("1" if value[-2] != "1" else "2") + value[-1]
        assert Credential.objects.verify(forged).state == "invalid"
        unsigned = {k: v for k, v in self.document.items() if k != "proof"}
        assert Credential.objects.verify(unsigned).reasons == ["This is not a signed credential: it has no proof."]
        assert Credential.objects.verify("nonsense").state == "invalid"

    def test_a_credential_signed_with_another_key_is_invalid(self):
        other = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        with override_settings(CREDENTIAL_SIGNING_KEY=other.decode()):
            resigned = credentials.sign({k: v for k, v in self.document.items() if k != "proof"})
        verdict = Credential.objects.verify(resigned)
        assert verdict.state == "invalid" and "key this site does not publish" in verdict.reasons[0]

    def test_reopening_the_gate_revokes_its_credential(self):
        self.request.reopen(by=self.lead, reason="The numbers were off")
        verdict = Credential.objects.verify(self.document)
        assert verdict.state == "revoked"
        assert "The gate was reopened: The numbers were off" in verdict.reasons[0]

    def test_issuing_twice_gives_the_same_credential_and_only_an_approved_gate_has_one(self):
        assert self.request.issue_credential(by=self.learner) == self.credential
        self.request.reopen(by=self.learner, reason="redo")
        with self.assertRaises(GateError):
            self.request.issue_credential(by=self.learner)
        assert Credential.objects.active().count() == 0


class CredentialPageTests(GateWorld, TestCase):
    def setUp(self):
        request = create_gate_request(learner=self.learner, gate=self.gate, versions=(self.version,), submit=True)
        request.approve(by=self.reviewer, marks=["met", "met"])
        self.request = request
        self.client.force_login(self.learner)
        self.client.post(reverse("gates:credential-issue", args=[request.pk]))
        self.credential = Credential.objects.get()
        self.client.logout()

    def test_the_credential_and_the_key_are_public_json(self):
        document = self.client.get(self.credential.get_absolute_url()).json()
        assert document == self.credential.document
        (key,) = self.client.get(reverse("gates:credential-keys")).json()["keys"]
        assert (key["kty"], key["crv"], key["alg"]) == ("OKP", "Ed25519", "EdDSA")
        assert document["proof"]["verificationMethod"].endswith(f"#{key['kid']}")

    def test_the_verification_page_says_valid_invalid_or_revoked_and_why(self):
        url = reverse("gates:credential-verify")
        valid = self.client.post(url, {"credential": json.dumps(self.credential.document)})
        self.assertContains(valid, "<h2>Valid</h2>", html=True)
        self.assertContains(valid, "Lena Learner")

        by_id = self.client.get(url, {"id": f"http://example.org/credentials/{self.credential.pk}/"})
        self.assertContains(by_id, "<h2>Valid</h2>", html=True)

        tampered = copy.deepcopy(self.credential.document)
        tampered["credentialSubject"]["name"] = "Mallory"
        invalid = self.client.post(url, {"credential": json.dumps(tampered)})
        self.assertContains(invalid, "<h2>Not valid</h2>", html=True)
        self.assertContains(invalid, "changed after it was issued")

        garbage = self.client.post(url, {"credential": "{not json"})
        self.assertContains(garbage, "credential: is not valid JSON", status_code=400)

        self.request.reopen(by=self.learner, reason="Redoing it")
        revoked = self.client.get(url, {"id": str(self.credential.pk)})
        self.assertContains(revoked, "<h2>Revoked</h2>", html=True)
        self.assertContains(revoked, "Redoing it")


class SigningKeyTests(TestCase):
    def test_the_embedded_key_is_generated_once_readable_by_its_owner_only(self):
        path = Path(settings.CREDENTIAL_SIGNING_KEY_FILE).with_name("fresh-key.pem")
        with override_settings(CREDENTIAL_SIGNING_KEY="", CREDENTIAL_SIGNING_KEY_FILE=path):
            first = credentials.jwks()
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            assert credentials.jwks() == first

    def test_a_key_from_the_environment_wins(self):
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        with override_settings(CREDENTIAL_SIGNING_KEY=pem.decode().replace("\n", "\\n")):
            kid = credentials.jwks()["keys"][0]["kid"]
        assert kid != credentials.jwks()["keys"][0]["kid"]

    def test_base58_round_trips(self):
        for data in (b"", b"\0\0abc", bytes(range(64))):
            assert credentials.b58decode(credentials.b58encode(data)) == data
