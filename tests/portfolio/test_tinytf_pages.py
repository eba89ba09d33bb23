"""The tiny transformer (01) on the web: its spec page's contract and downloads, its run page's
per-case verdicts, and hidden cases that give away nothing but category, verdict and hint."""

from __future__ import annotations

import html
import json
import re

from django.test import TestCase
from django.urls import reverse

from portfolio.models import Artifact, Run
from portfolio.runner.tinytf import cases, contract
from portfolio.uploads import UploadRefused, check_runnable, inspect_file
from roadmap.models import ArtifactSpec
from tests.factories import (
    create_artifact,
    create_artifact_spec,
    create_roadmap,
    create_run,
    create_user,
    create_version,
)
from tests.portfolio.recorded import finish_with, page_and_api

RECORDED = "tinytf_cpu_result_mask_off_by_one.json"


def tinytf_spec() -> ArtifactSpec:
    return create_artifact_spec(
        roadmap=create_roadmap(slug="llm-systems-engineering"), kind=ArtifactSpec.Kind.TINY_TRANSFORMER, code="01"
    )


def tinytf_run() -> Run:
    artifact = create_artifact(owner=create_user(), spec=tinytf_spec())
    version = create_version(artifact=artifact, data=b"def build(config):\n    pass\n", filename="tiny_transformer.py")
    return finish_with(create_run(version=version), RECORDED)


def hidden_secrets() -> list[str]:
    """What a hidden case must never show: why it is there, the configs only hidden cases use,
    and logits no public case has."""
    public = cases.public_cases()
    public_configs = {item["config"] for item in public}
    public_logits = [json.dumps(item.get("logits")) for item in public]
    secrets = []
    for item in cases.hidden_cases():
        if len(item["why"]) > 12:
            secrets.append(item["why"])
        if item["config"] not in public_configs:
            secrets.append(json.dumps(cases.CONFIGS[item["config"]]))
        if "logits" in item and json.dumps(item["logits"]) not in public_logits:
            secrets.append(json.dumps(item["logits"])[:40])
    return secrets


class TinyTransformerSpecPageTests(TestCase):
    def test_the_01_page_shows_the_contract_the_layout_the_downloads_and_the_public_cases(self):
        page = html.unescape(self.client.get(tinytf_spec().get_absolute_url()).content.decode())
        assert "def build(config: dict) -> torch.nn.Module" in page
        for key, _, _ in contract.CONFIG_SCHEMA:
            assert f"<code>{key}</code>" in page, key
        assert "blocks.0.attn.k_proj.weight" in page and "16 x 32" in page
        skeleton = reverse("portfolio:contract-file", args=["tiny_transformer", "tiny_transformer.py"])
        assert f'href="{skeleton}"' in page and f"the {len(cases.public_cases())} public cases with their" in page
        assert "computes the loss itself, on sequences the training never saw" in page
        for item in cases.public_cases():
            assert f"<code>{item['name']}</code>" in page and cases.expectation(item) in page
        assert "21,664 parameters" in page and "6,144 bytes" in page
        assert f"{len(cases.hidden_cases())} more cases" in page
        for secret in hidden_secrets():
            assert secret not in page, secret

    def test_the_skeleton_and_public_cases_download(self):
        skeleton = self.client.get(reverse("portfolio:contract-file", args=["tiny_transformer", "tiny_transformer.py"]))
        assert skeleton.status_code == 200
        source = skeleton.content.decode()
        compile(source, "tiny_transformer.py", "exec")
        assert "def build(config: dict) -> nn.Module" in source and "blocks.0.mlp.down_proj.weight: 32 x 64" in source
        assert "blocks.1." not in source
        public = json.loads(
            self.client.get(reverse("portfolio:contract-file", args=["tiny_transformer", "public_cases.json"])).content
        )
        assert [c["name"] for c in public["cases"]] == [c["name"] for c in cases.public_cases()]
        assert not any(name.startswith("hidden") for name in json.dumps(public).split('"'))


class TinyTransformerRunPageTests(TestCase):
    def test_each_case_shows_its_verdict_and_category_and_a_failing_one_its_hint(self):
        run = tinytf_run()
        self.client.force_login(run.version.artifact.owner)
        page = html.unescape(self.client.get(run.get_absolute_url()).content.decode())
        assert "16 of 27 cases passed" in page
        public = re.search(r'<table class="cases">(.*?)</table>', page, re.S).group(1)
        causality = next(r for r in re.findall(r"<tr class=\"case-\w+\">(.*?)</tr>", public, re.S) if "causality" in r)
        assert "failed" in causality and "Hint: " + cases.CHECKS["causality"][1] in causality
        assert "moved logits at <= 5" in causality
        hidden = re.search(r'<table class="cases hidden-cases">(.*?)</table>', page, re.S).group(1)
        rows = re.findall(r"<tr class=\"case-\w+\">(.*?)</tr>", hidden, re.S)
        assert len(rows) == len(cases.hidden_cases())
        seven = next(r for r in rows if "hidden-07" in r)
        assert "causality" in seven and "failed" in seven and cases.CHECKS["causality"][1] in seven

    def test_hidden_case_inputs_never_reach_the_page_or_the_api(self):
        page, body, data = page_and_api(self.client, tinytf_run())
        for secret in hidden_secrets():
            assert secret not in page and secret not in body, secret
        for test in data["tests"]:
            if test["visibility"] == "hidden":
                assert test.get("expected") is None and test.get("observed") is None
                assert set(test.get("details") or {}) <= {"category", "hint"}

    def test_another_user_gets_404(self):
        run = tinytf_run()
        self.client.force_login(create_user())
        assert self.client.get(run.get_absolute_url()).status_code == 404


class TinyTransformerUploadTests(TestCase):
    def test_a_python_file_is_accepted_and_other_types_refused_with_the_file_named(self):
        check_runnable("tiny_transformer", inspect_file("tiny_transformer.py", b"def build(c):\n    pass\n"))
        for name, data in (("model.pt", b"\x80\x02"), ("tiny_transformer.py", b"\xff\xfe\x00")):
            with self.assertRaisesMessage(UploadRefused, name):
                check_runnable("tiny_transformer", inspect_file(name, data))

    def test_an_upload_to_the_01_spec_starts_a_run(self):
        artifact = create_artifact(owner=create_user(), spec=tinytf_spec())
        assert isinstance(artifact, Artifact) and artifact.is_runnable
