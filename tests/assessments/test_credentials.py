"""Open Badges 3.0 credentials: what an approved gate's credential says, the OB 3.0 schema, an
independent check of its proof (pyld and `cryptography` straight, not the issuing code), tampering,
revocation through the status list, dates, the legacy format, and the pages."""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import json
from pathlib import Path

import jsonschema
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase, override_settings
from django.urls import reverse
from django.utils import timezone
from pyld import jsonld

from assessments import credentials
from assessments.models import AuditEvent, Credential, GateError
from portfolio.models import Run
from portfolio.reports import headline
from tests.assessments.gates import GateWorld
from tests.factories import create_gate_request

DATA = Path(__file__).parent / "data"
CONTEXTS = Path(settings.BASE_DIR) / "assessments" / "contexts"
SCHEMA = json.loads((DATA / "ob_v3p0_achievementcredential_schema.json").read_text())
SHIPPED = {
    "https://www.w3.org/ns/credentials/v2": json.loads((CONTEXTS / "credentials-v2.jsonld").read_text()),
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json": json.loads(
        (CONTEXTS / "ob-context-3.0.3.json").read_text()
    ),
}
ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


# --- the independent check: the library and `cryptography`, nothing from assessments/ ------------


def _loader(url, options):
    return {"contentType": "application/ld+json", "contextUrl": None, "documentUrl": url, "document": SHIPPED[url]}


def _nquads(document) -> bytes:
    options = {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": _loader}
    return jsonld.normalize(document, options).encode()


def _from_base58(text: str) -> bytes:
    number = 0
    for char in text:
        number = number * 58 + ALPHABET.index(char)
    return number.to_bytes(64, "big")


def independently_verified(document, public: Ed25519PublicKey) -> bool:
    """vc-di-eddsa 3.3: SHA-256(canonical proof options + @context) + SHA-256(canonical document)."""
    (proof,) = document["proof"]  # Open Badges 3.0 writes a proof set, here of one
    options = {k: v for k, v in proof.items() if k != "proofValue"} | {"@context": document["@context"]}
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    data = hashlib.sha256(_nquads(options)).digest() + hashlib.sha256(_nquads(unsigned)).digest()
    try:
        public.verify(_from_base58(proof["proofValue"][1:]), data)
    except (InvalidSignature, ValueError):
        return False
    return True


def published_key(client) -> Ed25519PublicKey:
    """The site's key as a verifier finds it: the JWKS the site publishes, decoded here."""
    (jwk,) = client.get(reverse("gates:credential-keys")).json()["keys"]
    return Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(jwk["x"] + "=="))


def leaves(value, path=()):
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


def resigned(document, **changes):
    """The document with `changes`, signed again with the site's key (a credential we could issue)."""
    return credentials.sign({**{k: v for k, v in document.items() if k != "proof"}, **changes})


class Issued(GateWorld):
    def setUp(self):
        self.request = create_gate_request(learner=self.learner, gate=self.gate, versions=(self.version,), submit=True)
        self.request.approve(by=self.reviewer, marks=["met", "met"])
        self.credential = self.request.issue_credential(by=self.learner)
        self.document = self.credential.document


class CredentialTests(Issued, TestCase):
    def test_the_credential_is_an_open_badge_with_the_evidence_and_its_run(self):
        doc = self.document
        assert doc["@context"][:2] == list(SHIPPED)
        assert doc["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
        assert doc["id"].endswith(f"/credentials/{self.credential.pk}/")
        assert doc["issuer"]["id"].endswith("/credentials/issuer") and doc["issuer"]["type"] == ["Profile"]
        subject = doc["credentialSubject"]
        assert subject["name"] == "Lena Learner"
        achievement = subject["achievement"]
        assert achievement["criteria"]["narrative"].endswith("- explains the mechanism\n- measured it")
        assert achievement["alignment"][0]["targetUrl"].endswith(self.layer.get_absolute_url())
        assert (achievement["roadmap"], achievement["layer"]) == ("llm", "kv-cache")
        version, sign_off = doc["evidence"]
        assert version["sha256"] == self.version.sha256 and version["artifactVersion"] == 1
        run = version["run"]
        assert (run["runId"], run["grader"], run["graderVersion"]) == (
            self.passing_run.pk,
            self.passing_run.grader,
            self.passing_run.grader_version,
        )
        assert (run["runStatus"], run["verdict"], run["score"], run["maxScore"], run["device"]) == (
            "succeeded",
            "passed",
            "1",
            "1",
            "cpu",
        )
        assert (sign_off["reviewer"], sign_off["team"], sign_off["attested"]) == ("Rita Reviewer", "Inference", False)
        status = doc["credentialStatus"]
        assert status["type"] == "BitstringStatusListEntry" and status["statusPurpose"] == "revocation"
        assert status["statusListIndex"] == str(self.credential.status_index)
        assert status["statusListCredential"].endswith("/credentials/status/revocation")
        assert doc["proof"][0]["cryptosuite"] == "eddsa-rdfc-2022" and doc["proof"][0]["proofValue"].startswith("z")
        assert doc["proof"][0]["verificationMethod"].endswith(
            f"/credentials/keys/{credentials.key_id(published_key(self.client))}"
        )
        assert AuditEvent.objects.filter(request_id=self.request.pk, action="credential_issued").exists()

    def test_the_evidence_carries_the_runs_headline_figures_and_device(self):
        recorded = Path(settings.BASE_DIR) / "tests" / "portfolio" / "data"
        kv = json.loads((recorded / "kv_gpu_result.json").read_text())
        Run.objects.filter(pk=self.passing_run.pk).update(metrics=kv["metrics"], environment=kv["environment"])
        Credential.objects.active().update(revoked_at=timezone.now())
        document = Credential.issue(self.request).document
        run = document["evidence"][0]["run"]
        assert run["device"] == "NVIDIA H100 80GB HBM3"
        assert run["measured"] == [
            {"name": "Cases passed", "value": "22 of 22"},
            {"name": "Cases measured on a real model", "value": "18"},
            {"name": "Tolerance", "value": "1% relative error"},
        ]
        assert independently_verified(document, published_key(self.client))
        bench = json.loads((recorded / "bench_gpu_result.json").read_text())
        figures = dict(headline(Run(grader="inference_benchmark", metrics=bench["metrics"])))
        assert set(figures) == {"Output throughput", "TTFT p50", "TPOT p50", "Peak memory"}
        best = max(bench["metrics"]["levels"], key=lambda level: level["output_tokens_per_s"])
        assert figures["Output throughput"] == (
            f"{best['output_tokens_per_s']:.1f} tokens/s at concurrency {best['concurrency']}"
        )
        assert figures["TTFT p50"] == f"{best['ttft_ms']['p50']:.1f} ms"

    def test_it_validates_against_the_open_badges_3_schema(self):
        validator = jsonschema.Draft201909Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
        assert [e.message for e in validator.iter_errors(self.document)] == []
        broken = {k: v for k, v in self.document.items() if k != "credentialSubject"}
        assert not validator.is_valid(broken)  # the schema does check something

    def test_an_independent_check_verifies_it_and_rejects_any_changed_field(self):
        key = published_key(self.client)
        assert independently_verified(self.document, key)
        # The proof is not signed content, and the @context is not a field: a changed definition of a
        # term the document does not use changes no statement (one it uses is covered: other IRIs).
        paths = [path for path, _ in leaves(self.document) if path[0] not in ("proof", "@context")]
        assert len(paths) > 40
        for path in paths:
            with self.subTest(path=path):
                assert not independently_verified(changed(self.document, path), key), path

    def test_the_site_verifies_it_with_every_check_passed(self):
        verdict = Credential.objects.verify(self.document)
        assert verdict.state == "valid" and verdict.credential == self.credential
        assert [(c.name, c.ok) for c in verdict.checks] == [
            ("structure", True),
            ("proof", True),
            ("status", True),
            ("dates", True),
        ]
        assert verdict.format == "ob3"

    def test_the_site_calls_any_changed_field_tampered_and_names_it(self):
        for path, _ in leaves(self.document):
            if path[-1] == "proofValue" or path[0] == "@context":
                continue
            with self.subTest(path=path):
                verdict = Credential.objects.verify(changed(self.document, path))
                assert verdict.state in ("tampered", "invalid"), path
                assert verdict.failing_check is not None
        verdict = Credential.objects.verify(changed(self.document, ("credentialSubject", "name")))
        assert verdict.state == "tampered" and verdict.failing_check.name == "proof"
        assert "credentialSubject.name" in verdict.failing_check.message

    def test_a_field_added_that_no_context_defines_is_refused(self):
        added = copy.deepcopy(self.document)
        added["credentialSubject"]["achievement"]["secretlyAdded"] = "not signed"
        verdict = Credential.objects.verify(added)
        assert verdict.state == "tampered" and "secretlyAdded" in verdict.failing_check.message

    def test_a_changed_signature_or_a_missing_proof_is_not_valid(self):
        forged = copy.deepcopy(self.document)
        value = forged["proof"][0]["proofValue"]
        forged["proof"][0]["proofValue"] = value[:-2] + ("1" if value[-2] != "1" else "2") + value[-1]
        assert Credential.objects.verify(forged).state == "tampered"
        unsigned = {k: v for k, v in self.document.items() if k != "proof"}
        verdict = Credential.objects.verify(unsigned)
        assert verdict.state == "invalid" and verdict.failing_check.name == "structure"
        assert Credential.objects.verify("nonsense").state == "invalid"

    def test_a_credential_signed_with_another_key_is_not_valid(self):
        other = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        with override_settings(CREDENTIAL_SIGNING_KEY=other.decode()):
            document = resigned(self.document)
        verdict = Credential.objects.verify(document)
        assert verdict.state == "invalid" and "key this site does not publish" in verdict.failing_check.message

    def test_reopening_the_gate_revokes_it_in_the_status_list_and_the_verdict(self):
        index = self.credential.status_index
        self.request.reopen(by=self.lead, reason="The numbers were off")
        status_list = self.client.get(reverse("gates:credential-status")).json()
        assert independently_verified(status_list, published_key(self.client))
        encoded = status_list["credentialSubject"]["encodedList"]
        bits = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
        assert bits[index // 8] & (0x80 >> (index % 8))
        assert sum(bin(byte).count("1") for byte in bits) == 1
        verdict = Credential.objects.verify(self.document)
        assert verdict.state == "revoked" and verdict.failing_check.name == "status"
        assert "The gate was reopened: The numbers were off" in verdict.failing_check.message
        assert f"bit {index}" in verdict.failing_check.message

    def test_an_expired_credential_says_so_and_one_not_yet_valid_is_not_valid(self):
        expired = resigned(self.document, validUntil="2020-01-01T00:00:00Z")
        verdict = Credential.objects.verify(expired)
        assert verdict.state == "expired" and verdict.failing_check.name == "dates"
        future = resigned(self.document, validFrom="2999-01-01T00:00:00Z")
        assert Credential.objects.verify(future).state == "invalid"

    def test_a_credential_whose_row_is_gone_is_not_valid(self):
        document = self.document
        Credential.objects.filter(pk=self.credential.pk).delete()
        verdict = Credential.objects.verify(document)
        assert verdict.state == "invalid" and verdict.failing_check.name == "status"

    def test_issuing_twice_gives_the_same_credential_and_only_an_approved_gate_has_one(self):
        assert self.request.issue_credential(by=self.learner) == self.credential
        self.request.reopen(by=self.learner, reason="redo")
        with self.assertRaises(GateError):
            self.request.issue_credential(by=self.learner)
        assert Credential.objects.active().count() == 0

    def test_each_credential_has_its_own_bit(self):
        indexes = {self.credential.status_index}
        for _ in range(5):
            Credential.objects.active().update(revoked_at=timezone.now())
            indexes.add(Credential.issue(self.request).status_index)
        assert len(indexes) == 6


@override_settings(CREDENTIAL_SIGNING_KEY=(DATA / "legacy-key.pem").read_text(), SITE_URL="http://testserver")
class LegacyCredentialTests(GateWorld, TestCase):
    """A credential the code before Open Badges 3.0 made (tests/assessments/data/README.md)."""

    def setUp(self):
        self.document = json.loads((DATA / "legacy-credential.json").read_text())
        request = create_gate_request(learner=self.learner, gate=self.gate, versions=(self.version,), submit=True)
        request.approve(by=self.reviewer, marks=["met", "met"])
        self.credential = Credential.objects.create(
            id=credentials.credential_uuid(self.document["id"]), request=request, document=self.document
        )

    def test_it_keeps_verifying_and_says_which_format_it_is_in(self):
        verdict = Credential.objects.verify(self.document)
        assert verdict.state == "valid" and verdict.format == "legacy"
        assert self.credential.format_label.startswith("Layerwise's first format")
        page = self.client.get(self.credential.get_absolute_url())
        self.assertContains(page, "Layerwise&#x27;s first format")
        self.assertContains(page, "Rita Reviewer")

    def test_a_changed_legacy_credential_is_tampered_and_a_revoked_one_revoked(self):
        verdict = Credential.objects.verify(changed(self.document, ("credentialSubject", "name")))
        assert verdict.state == "tampered"
        Credential.objects.filter(pk=self.credential.pk).update(revoked_at=timezone.now(), revoked_reason="redo")
        assert Credential.objects.verify(self.document).state == "revoked"


class CredentialPageTests(Issued, TestCase):
    def test_the_id_url_is_a_page_for_people(self):
        page = self.client.get(self.credential.get_absolute_url(), headers={"accept": "text/html,*/*;q=0.8"})
        assert page["Content-Type"].startswith("text/html")
        self.assertContains(page, '<h2 id="verdict-title">Valid</h2>', html=True)
        for text in (
            "Lena Learner",
            "Layer 7: KV Cache",
            "Rita Reviewer",
            "Inference",
            "Layerwise",
            self.version.sha256,
        ):
            self.assertContains(page, text)
        self.assertContains(page, "Cases passed", count=0)  # the stand-in run has no KV metrics
        self.assertContains(page, f"Run #{self.passing_run.pk}")
        self.assertContains(page, '<meta property="og:title" content="Lena Learner: Layer 7: KV Cache">', html=True)
        self.assertContains(page, 'property="og:url"')
        self.assertContains(page, reverse("gates:credential-download", args=[self.credential.pk]))
        self.assertContains(page, 'data-copy="share-link"')
        self.assertContains(page, "Open Badges 3.0")

    def test_wallets_asking_for_json_get_the_document_and_the_download_is_a_file(self):
        document = self.client.get(self.credential.get_absolute_url(), headers={"accept": "application/ld+json"})
        assert document.json() == self.credential.document
        download = self.client.get(reverse("gates:credential-download", args=[self.credential.pk]))
        assert download.json() == self.credential.document
        assert download["Content-Disposition"] == f'attachment; filename="credential-{self.credential.pk}.json"'

    def test_a_revoked_credential_page_says_revoked(self):
        self.request.reopen(by=self.lead, reason="The numbers were off")
        page = self.client.get(self.credential.get_absolute_url())
        self.assertContains(page, '<h2 id="verdict-title">Revoked</h2>', html=True)
        self.assertContains(page, "The numbers were off")

    def test_an_unknown_credential_is_a_404(self):
        assert (
            self.client.get(
                reverse("gates:credential-detail", args=["00000000-0000-0000-0000-000000000000"])
            ).status_code
            == 404
        )

    def test_the_issuer_and_its_key_resolve_over_http(self):
        key_url = self.document["proof"][0]["verificationMethod"]
        key = self.client.get(key_url.removeprefix("http://testserver")).json()
        assert key["type"] == "Multikey" and key["id"] == key_url
        issuer = self.client.get(reverse("gates:credential-issuer")).json()
        assert key["controller"] == issuer["id"] == self.document["issuer"]["id"]
        assert issuer["assertionMethod"] == [key_url]
        raw = ALPHABET  # decode publicKeyMultibase here, not with the site's code
        number = 0
        for char in key["publicKeyMultibase"][1:]:
            number = number * 58 + raw.index(char)
        multicodec = number.to_bytes(34, "big")
        assert multicodec[:2] == b"\xed\x01"
        assert independently_verified(self.document, Ed25519PublicKey.from_public_bytes(multicodec[2:]))
        assert self.client.get(reverse("gates:credential-key", args=["0" * 16])).status_code == 404


class VerifyPageTests(Issued, TestCase):
    url = reverse("gates:credential-verify")

    def post(self, text=None, upload=None):
        data = {"credential": text or ""}
        if upload is not None:
            data["file"] = upload
        return self.client.post(self.url, data)

    def test_pasted_linked_or_uploaded_it_shows_each_check(self):
        for response in (
            self.post(json.dumps(self.document)),
            self.client.get(self.url, {"id": f"http://example.org/credentials/{self.credential.pk}/"}),
            self.post(upload=SimpleUploadedFile("badge.json", json.dumps(self.document).encode())),
        ):
            self.assertContains(response, '<h2 id="verdict-title">Valid</h2>', html=True)
            for label in ("Structure", "Proof", "Status", "Dates"):
                self.assertContains(response, f"<strong>{label}</strong>", html=True)
            self.assertContains(response, "Lena Learner")

    def test_a_tampered_credential_names_the_failing_check_and_the_field(self):
        tampered = copy.deepcopy(self.document)
        tampered["credentialSubject"]["name"] = "Mallory"
        response = self.post(json.dumps(tampered))
        self.assertContains(response, '<h2 id="verdict-title">Tampered</h2>', html=True)
        self.assertContains(response, "Proof check failed:")
        self.assertContains(response, "credentialSubject.name")
        self.assertNotContains(response, "credential-summary")  # what a tampered document claims is not shown

    def test_a_revoked_one_says_revoked(self):
        self.request.reopen(by=self.learner, reason="Redoing it")
        response = self.client.get(self.url, {"id": str(self.credential.pk)})
        self.assertContains(response, '<h2 id="verdict-title">Revoked</h2>', html=True)
        self.assertContains(response, "Redoing it")

    def test_hostile_input_gets_a_clear_message(self):
        deep = "[" * 100_000 + "]" * 100_000
        cases = {
            "{not json": "This is not valid JSON (line 1",
            '{"n": 1e999999}': "too large to be read exactly",
            '{"n": NaN}': "a number this page does not accept",
            '{"n": ' + "9" * 5000 + "}": "a number this page does not accept",
            '{"n": 9007199254740993}': "too large to be read exactly",
            deep: "nested too deeply",
            '{"a":' * 40 + "1" + "}" * 40: "nested too deeply",
            "[1, 2]": "is a JSON object",
            json.dumps({"x": list(range(6000))}): "more than 5,000 values",
            "not-a-uuid": "No credential with this id was issued here.",
        }
        for text, message in cases.items():
            with self.subTest(text=text[:40]):
                response = self.post(text)
                assert response.status_code == 200
                self.assertContains(response, message)
                self.assertContains(response, '<h2 id="verdict-title">Not valid</h2>', html=True)

    def test_megabytes_are_refused_with_the_field_named(self):
        response = self.post("{" + " " * (3 * 1024 * 1024) + "}")
        assert response.status_code == 422
        self.assertContains(response, "a credential is at most 262144", status_code=422)
        big = SimpleUploadedFile("huge.json", b" " * (1024 * 1024))
        response = self.post(upload=big)
        self.assertContains(response, "huge.json is 1,024 KiB", status_code=422)
        binary = SimpleUploadedFile("badge.png", b"\x89PNG\r\n\x1a\n\xff\xfe")
        self.assertContains(self.post(upload=binary), "badge.png is not UTF-8 text", status_code=422)
        self.assertContains(self.post(""), "Paste a credential or its link", status_code=422)

    @pytest.mark.slow  # about 600 verifications, 20 s on 2 cores
    def test_no_mangled_field_of_a_credential_makes_a_server_error(self):
        leaf_values = [None, {}, "x" * 300]
        node_values = [None, [], {}, -1, "", {"@id": "_:b0"}, [{"@context": "http://evil.example/"}]]
        leaf_paths = {path for path, _ in leaves(self.document) if path[:2] != ("@context", 2)}  # see above
        node_paths = {path[:i] for path in leaf_paths for i in range(1, len(path))}
        for path, values in [(p, leaf_values) for p in leaf_paths] + [(p, node_values) for p in node_paths]:
            for value in values:
                mangled = copy.deepcopy(self.document)
                target = mangled
                for key in path[:-1]:
                    target = target[key]
                target[path[-1]] = value
                with self.subTest(path=path, value=value):
                    verdict = Credential.objects.verify(mangled)
                    assert verdict.state in ("invalid", "tampered") or mangled == self.document, (path, value)
        response = self.post(json.dumps({**self.document, "@context": ["https://evil.example/ctx"]}))
        self.assertContains(response, "Not valid")
