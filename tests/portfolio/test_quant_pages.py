"""The quantizer (10) on the web: its spec page's contract, claims.json schema, downloads and
public settings; its run page's per-case verdicts and measured-versus-claimed table; hidden cases
that give away nothing but category, verdict and hint; the upload types it takes; and a gate that
requires it needing a passing run."""

from __future__ import annotations

import html
import io
import json
import re

from django.test import TestCase
from django.urls import reverse

from assessments.models import GateRequest
from portfolio.models import Run
from portfolio.runner.quant import cases
from portfolio.uploads import UploadRefused, check_runnable, inspect_file
from roadmap.models import ArtifactSpec
from tests.factories import (
    create_artifact,
    create_artifact_spec,
    create_gate,
    create_gate_request,
    create_roadmap,
    create_run,
    create_token,
    create_user,
    create_version,
    finish_run,
)
from tests.portfolio.recorded import finish_with, page_and_api
from tests.runner.quant.submission_files import zipped

RECORDED = "quant_cpu_result_partial_group_ignored.json"
TEXT = "def quantize(weight, bits, group_size):\n    return {}\n"
SOURCE = TEXT.encode()


def quant_spec() -> ArtifactSpec:
    return create_artifact_spec(
        roadmap=create_roadmap(slug="llm-systems-engineering"), kind=ArtifactSpec.Kind.QUANTIZER, code="10"
    )


def quant_run(spec: ArtifactSpec | None = None) -> Run:
    artifact = create_artifact(owner=create_user(), spec=spec or quant_spec())
    version = create_version(artifact=artifact, data=SOURCE, filename="quantizer.py")
    return finish_with(create_run(version=version), RECORDED)


def hidden_secrets() -> list[str]:
    """What a hidden case must never show: the hidden settings' keys, bits and group sizes as the
    public ones print them, the hidden model and its config, and why it is there."""
    secrets = []
    for setting in cases.SETTINGS:
        if setting["visibility"] == cases.HIDDEN:
            bits, group = setting["bits"], setting["group_size"]
            secrets += [setting["key"], f"{bits} bits, group size {group}", f'"bits": {bits}, "group_size": {group}']
    hidden_models = {s["model"] for s in cases.SETTINGS} - {s["model"] for s in cases.public_settings()}
    for name in hidden_models:
        model = cases.MODELS[name]
        secrets += [model["why"], model["catalog"], json.dumps(cases.model_config(name))]
        secrets += [f"<code>{name}</code>", f'"model": "{name}"']
    return secrets


class QuantizerSpecPageTests(TestCase):
    def test_the_10_page_shows_the_contract_the_claims_schema_the_downloads_and_the_public_settings(self):
        page = html.unescape(self.client.get(quant_spec().get_absolute_url()).content.decode())
        assert "def quantize(weight: torch.Tensor, bits: int, group_size: int) -> dict[str, torch.Tensor]" in page
        assert "def dequantize(packed: dict[str, torch.Tensor]" in page and "# optional" in page
        for name in ("schema_version", "quantized", "method", "scheme", "settings", *cases.CLAIM_FIELDS):
            assert re.search(rf"<code>(settings\[\]\.)?{name}</code>", page), name
        assert "8 x packed bytes / number of weights, metadata included." in page
        assert "within 35% of the measured value (or within 0.001 nats of it)" in page
        assert f"at most <strong>{cases.ERROR_MARGIN}×</strong> round-to-nearest per group" in page
        for name in ("quantizer.py", "claims.json", "claims.schema.json", "public_cases.json"):
            assert reverse("portfolio:contract-file", args=["quantizer", name]) in page, name
        reference = cases.load_public_expected()["settings"]
        for example in cases.public_examples():
            assert (
                f"<code>{example['setting']}</code>: {example['bits']} bits, group size {example['group_size']}" in page
            )
            for case in example["cases"]:
                assert f"<code>{case}</code>" in page
            kl = reference[example["setting"]]["asymmetric"]["kl_divergence"]
            assert f"{kl:.4g}"[:5] in page
        assert f"{len(cases.hidden_cases())} more cases" in page
        for secret in hidden_secrets():
            assert secret not in page, secret

    def test_the_skeleton_the_claims_example_and_the_public_cases_download(self):
        def get(name: str) -> bytes:
            response = self.client.get(reverse("portfolio:contract-file", args=["quantizer", name]))
            assert response.status_code == 200, name
            return response.content

        source = get("quantizer.py").decode()
        compile(source, "quantizer.py", "exec")
        assert "def quantize(weight: torch.Tensor, bits: int, group_size: int)" in source
        assert "raise NotImplementedError" in source
        claims, errors = cases.validate_claims(json.loads(get("claims.json")))
        assert errors == [] and set(claims["by_setting"]) == {s["key"] for s in cases.public_settings()}
        assert json.loads(get("claims.schema.json")) == cases.CLAIMS_SCHEMA
        public = json.loads(get("public_cases.json"))
        assert [c["name"] for c in public["cases"]] == [c["name"] for c in cases.public_cases()]
        assert [s["setting"] for s in public["settings"]] == [s["key"] for s in cases.public_settings()]
        body = json.dumps(public)
        for secret in hidden_secrets():
            assert secret not in body, secret

    def test_the_catalogue_marks_every_runnable_spec_machine_verified_and_no_other(self):
        roadmap = create_roadmap(slug="llm-systems-engineering")
        kinds = [*ArtifactSpec.RUNNABLE_KINDS, ArtifactSpec.Kind.DOCUMENT, ArtifactSpec.Kind.RESULTS]
        specs = [create_artifact_spec(roadmap=roadmap, kind=kind, code=f"{n:02d}") for n, kind in enumerate(kinds, 1)]
        page = self.client.get(reverse("roadmap:artifact-list", args=[roadmap.slug])).content.decode()
        assert ArtifactSpec.Kind.QUANTIZER in ArtifactSpec.RUNNABLE_KINDS
        for spec in specs:
            row = re.search(rf'<tr id="artifact-{spec.code}">(.*?)</tr>', page, re.S).group(1)
            marked = '<span class="pill pill-accent">machine-verified</span>' in row
            assert marked == spec.is_runnable == (spec.kind in ArtifactSpec.RUNNABLE_KINDS), spec.kind


class QuantizerRunPageTests(TestCase):
    def test_each_case_shows_its_verdict_and_category_and_a_failing_one_its_hint(self):
        run = quant_run()
        self.client.force_login(run.version.artifact.owner)
        page = html.unescape(self.client.get(run.get_absolute_url()).content.decode())
        failing = {c["name"] for c in cases.all_cases() if cases.PARTIAL_GROUP_IGNORED in c["catches"]}
        assert f"{len(cases.all_cases()) - len(failing)} of {len(cases.all_cases())} cases passed" in page
        public = re.search(r'<table class="cases">(.*?)</table>', page, re.S).group(1)
        rows = dict(re.findall(r'<tr class="case-\w+">\s*<td><code>([\w-]+)</code></td>(.*?)</tr>', public, re.S))
        assert set(rows) == {c["name"] for c in cases.public_cases()}
        partial = rows["int4-g128-partial-group"]
        assert "partial_group" in partial and "failed" in partial
        assert "Hint: " + cases.HINTS[cases.PARTIAL_GROUP] in partial
        assert "passed" in rows["int4-g128-storage"] and "Hint:" not in rows["int4-g128-storage"]
        assert '<th scope="col">Expected</th>' not in public
        hidden = re.search(r'<table class="cases hidden-cases">(.*?)</table>', page, re.S).group(1)
        hidden_rows = re.findall(
            r'<tr class="case-(\w+)">\s*<td data-label="Case"><code>([\w-]+)</code></td>\s*<td data-label="Checks">(\w+)</td>',
            hidden,
        )
        assert [(name, category) for _, name, category in hidden_rows] == [
            (c["name"], c["category"]) for c in cases.hidden_cases()
        ]
        assert {name for status, name, _ in hidden_rows if status != "passed"} == {
            c["name"] for c in cases.hidden_cases() if c["name"] in failing
        }

    def test_measured_and_claimed_figures_side_by_side_with_differences_flagged(self):
        run = quant_run()
        self.client.force_login(run.version.artifact.owner)
        page = html.unescape(self.client.get(run.get_absolute_url()).content.decode())
        table = re.search(r'<table class="cases claims">(.*?)</table>', page, re.S).group(1)
        rows = re.findall(
            r'<tr class="claim-(\w+)">\s*<td><code>([\w-]+)</code></td>\s*<td><code>(\w+)</code></td>', table
        )
        assert len(rows) == len(cases.public_settings()) * len(cases.CLAIM_FIELDS)
        stored = {(r["setting"], r["field"]): r["matches"] for r in run.metrics["claims"]}
        assert {(s, f): v == "match" for v, s, f in rows} == stored
        # A partial group dropped stores too little, so its claimed bits per weight is off at int4-g128.
        assert ("mismatch", "int4-g128", "bits_per_weight") in rows and ("match", "int8-g64", "top1_agreement") in rows
        assert "differs" in table and "matches" in table

    def test_hidden_case_inputs_never_reach_the_page_or_the_api(self):
        page, body, data = page_and_api(self.client, quant_run())
        for secret in hidden_secrets():
            assert secret not in page and secret not in body, secret
        hidden = [t for t in data["tests"] if t["visibility"] == "hidden"]
        assert len(hidden) == len(cases.hidden_cases())
        for test in hidden:
            assert test.get("expected") is None and test.get("observed") is None and not test.get("message")
            assert set(test.get("details") or {}) == {"category", "hint"}

    def test_another_user_gets_404_on_the_page_and_the_api(self):
        run = quant_run()
        stranger = create_user()
        self.client.force_login(stranger)
        assert self.client.get(run.get_absolute_url()).status_code == 404
        _, raw = create_token(user=stranger)
        assert self.client.get(f"/api/v1/runs/{run.pk}", headers={"Authorization": f"Bearer {raw}"}).status_code == 404


class QuantizerUploadTests(TestCase):
    def test_quantizer_py_or_a_zip_with_it_and_claims_json_is_accepted(self):
        check_runnable("quantizer", inspect_file("quantizer.py", SOURCE))
        check_runnable("quantizer", inspect_file("q.zip", zipped({"quantizer.py": TEXT, "claims.json": "{}"})))
        inside = zipped({"work/quantizer.py": TEXT, "work/claims.json": "{}"})
        check_runnable("quantizer", inspect_file("q.zip", inside))

    def test_other_types_and_names_are_refused_with_the_file_named(self):
        refused = (
            ("model.pt", b"\x80\x02", "is not a .py file"),
            ("quantizer.py", b"\xff\xfe\x00", "is not text"),
            ("my_quant.py", SOURCE, "is not named quantizer.py"),
            ("q.zip", zipped({"quantizer.py": TEXT}), "has no quantizer.py and claims.json side by side"),
            ("q.zip", zipped({"a/quantizer.py": TEXT, "b/claims.json": "{}"}), "side by side"),
            ("q.zip", zipped({"claims.json": "{}"}), "has no .py file"),
        )
        for name, data, why in refused:
            with self.assertRaises(UploadRefused) as caught:
                check_runnable("quantizer", inspect_file(name, data))
            assert name in str(caught.exception) and why in str(caught.exception), (name, str(caught.exception))
            assert "upload quantizer.py, or a zip with quantizer.py and claims.json" in str(caught.exception)

    def test_the_upload_form_refuses_a_wrong_file_with_a_400_and_keeps_nothing(self):
        artifact = create_artifact(owner=create_user(), spec=quant_spec())
        self.client.force_login(artifact.owner)
        url = reverse("portfolio:version-create", args=[artifact.pk])
        response = self.client.post(url, {"file": _named("notes.py"), "notes": "first try"})
        assert response.status_code == 400
        assert "is not named quantizer.py" in html.unescape(response.content.decode())
        assert artifact.versions.count() == 0


def _named(name: str) -> io.BytesIO:
    upload = io.BytesIO(SOURCE)
    upload.name = name
    return upload


class QuantizerGateTests(TestCase):
    def test_a_gate_requiring_10_needs_a_passing_run_of_it(self):
        spec = quant_spec()
        gate = create_gate(artifacts=(spec,))
        learner = create_user()
        artifact = create_artifact(owner=learner, spec=spec)
        failed = create_version(artifact=artifact, data=SOURCE, filename="quantizer.py")
        finish_run(create_run(version=failed), verdict="failed")
        request = create_gate_request(learner=learner, gate=gate, versions=(failed,))
        gaps = request.machine_evidence_gaps()
        assert [g.spec for g in gaps] == [spec] and "ended failed" in gaps[0].message
        passing = create_version(artifact=artifact, data=SOURCE + b"\n", filename="quantizer.py")
        finish_run(create_run(version=passing))
        request.pin(passing, by=learner)
        request = GateRequest.objects.get(pk=request.pk)
        assert request.machine_evidence_gaps() == []
        request.submit(by=learner)
