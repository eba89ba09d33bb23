"""The submission contracts on the public spec pages of 09 and 07, and their downloads."""

from __future__ import annotations

import ast
import html
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from django.test import TestCase
from django.urls import reverse

from portfolio import contracts
from portfolio.runner.bench import catalog as bench_catalog
from portfolio.runner.bench import metrics as bench_metrics
from portfolio.runner.bench import results as bench_results
from portfolio.runner.bench import workload as bench_workload
from portfolio.runner.kv import cases, grade, reference
from roadmap.models import ArtifactSpec, Roadmap
from tests.factories import create_artifact_spec, create_roadmap

HARNESS_CALL = Path(contracts.harness_call.__file__)


def spec_page(kind: str, code: str) -> str:
    roadmap = Roadmap.objects.filter(slug="llm-systems-engineering").first() or create_roadmap(
        slug="llm-systems-engineering"
    )
    spec = create_artifact_spec(roadmap=roadmap, kind=kind, code=code)
    return spec.get_absolute_url()


def text(response) -> str:
    return html.unescape(response.content.decode())


class KVContractTests(TestCase):
    def test_the_09_page_publishes_the_graders_contract_to_anyone(self):
        url = spec_page(ArtifactSpec.Kind.KV_CALCULATOR, "09")
        assert url == "/roadmaps/llm-systems-engineering/artifacts/09/"
        page = text(self.client.get(url))
        for needle in (
            "def kv_cache_bytes(config: dict, batch_size: int, seq_len: int, dtype: str) -> int",
            "def max_concurrency(config: dict, seq_len: int, dtype: str, kv_budget_bytes: int) -> int",
            "config.json",
            "within <strong>1% relative error</strong>",
            "2 s per call",
            "a bool is refused",
            "min(seq_len, sliding_window - 1)",
            "layer_types",
            "kv_lora_rank",
            f"{len(cases.hidden_cases())} more cases",
            "<strong>pass or fail and relative error only</strong>",
            "a skeleton: the signatures, docstrings and a worked example call.",
            f"the {len(cases.public_cases())} public cases with their full configs and expected values",
        ):
            assert needle in page, needle
        for example in cases.public_examples():
            assert example["name"] in page and f"{example['expected']:,}" in page, example["name"]

    def test_the_semantics_are_the_reference_modules_text(self):
        raw = self.client.get(spec_page(ArtifactSpec.Kind.KV_CALCULATOR, "09")).content.decode()
        assert 'id="semantics"' in raw and "<code>positions</code>" in raw
        words = html.unescape(re.sub(r"<[^>]+>", "", raw))
        for block in contracts.text_blocks(reference.SEMANTICS):
            for part in (block.text, *block.items):
                assert part.replace("`", "") in words, part

    def test_the_return_rule_is_read_from_the_harness(self):
        rule = contracts.kv_contract()["return_rule"]
        assert rule.startswith("an int is accepted") and "float is refused" in rule

    def test_the_skeleton_download_states_the_contract(self):
        response = self.client.get(reverse("portfolio:contract-file", args=["kv_calculator", "kv_calculator.py"]))
        assert response.status_code == 200 and response["Content-Type"].startswith("text/x-python")
        assert response["Content-Disposition"] == 'attachment; filename="kv_calculator.py"'
        source = response.content.decode()
        tree = ast.parse(source)
        functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
        assert [a.arg for a in functions["kv_cache_bytes"].args.args] == ["config", "batch_size", "seq_len", "dtype"]
        assert [a.arg for a in functions["max_concurrency"].args.args] == [
            "config",
            "seq_len",
            "dtype",
            "kv_budget_bytes",
        ]
        assert all(ast.get_docstring(f) for f in functions.values())
        assert 'kv_cache_bytes(config, 1, 1024, "float16")  # == 536870912' in source

    def test_the_skeleton_fails_every_case_through_the_real_harness_and_grade(self):
        """The skeleton is no solution: the learner-side harness calls it on every case and the
        grader's comparison, with the true values, fails it."""
        source = self.client.get(reverse("portfolio:contract-file", args=["kv_calculator", "kv_calculator.py"])).content
        items = cases.all_cases()
        with tempfile.TemporaryDirectory() as folder:
            work = Path(folder)
            (work / "submission").mkdir()
            (work / "submission" / "kv_calculator.py").write_bytes(source)
            job = {"submission": "submission", "cases": [cases.call_input(item) for item in items], "call_timeout_s": 5}
            (work / "input.json").write_text(json.dumps(job))
            # harness_call.py is standard-library only, so the web env's Python runs it as the runner would.
            subprocess.run(
                [sys.executable, "-I", str(HARNESS_CALL), "input.json", "output.json"],
                cwd=work,
                check=True,
                timeout=120,
            )
            answers = json.loads((work / "output.json").read_text())
        assert answers["functions"] == {"kv_cache_bytes": True, "max_concurrency": True}
        # The truth: the committed measurements of the public cases, the reference (which
        # tests/runner/kv proves equal to measurement) for the hidden ones.
        table = cases.load_public_expected()["cases"]
        measured = {}
        for item in items:
            key = cases.measurement_id(item)
            row = table.get(item["name"])
            truth = (
                row["measured_bytes"]
                if row
                else reference.kv_cache_bytes(
                    cases.catalog.get_config(item["model"]), item["batch_size"], item["seq_len"], item["dtype"]
                )
            )
            measured[key] = {"bytes": truth}
        outcome = grade.compare(items, answers["results"], measured)
        assert outcome["verdict"] == "failed" and outcome["score"] == 0.0
        assert {t["status"] for t in outcome["tests"]} == {"error"}
        assert all("NotImplementedError" in t["message"] for t in outcome["tests"])

    def test_the_public_cases_download_has_configs_and_expected_values(self):
        data = json.loads(
            self.client.get(reverse("portfolio:contract-file", args=["kv_calculator", "public_cases.json"])).content
        )
        assert [c["name"] for c in data["cases"]] == [c["name"] for c in cases.public_cases()]
        assert all(c["config"]["model_type"] and c["expected"] for c in data["cases"]) and data["tolerance"] == 0.01
        assert not {c["name"] for c in data["cases"]} & {c["name"] for c in cases.hidden_cases()}


class BenchmarkContractTests(TestCase):
    def test_the_07_page_publishes_schema_catalog_refusals_definitions_and_upload_schema(self):
        url = spec_page(ArtifactSpec.Kind.INFERENCE_BENCHMARK, "07")
        page = text(self.client.get(url))
        for field in bench_workload.SPEC_SCHEMA["properties"]:
            assert f"<code>{field}</code>" in page, field
        for row in bench_catalog.listing():
            assert f"<code>{row['name']}</code>" in page and f"{row['params']:,}" in page, row["name"]
        for definition in bench_metrics.DEFINITIONS:
            assert definition["definition"] in page and definition["vs_vllm"] in page, definition["metric"]
        for name in bench_results.RESULTS_WORKLOAD_FIELDS:
            assert f"<code>{name}</code>" in page, name
        assert "is in the GPU catalog; a CPU runner runs only" in page
        assert "float16 is not offered on a CPU runner" in page
        assert "needs about" in page and "offers" in page
        assert page.count('pill-ok">runs') == 2 and page.count('pill-bad">refused') == 3
        assert "Batching is static" in page or "Batching is <strong>static</strong>" in page

    def test_the_example_spec_and_the_schema_download_as_json(self):
        example = self.client.get(reverse("portfolio:contract-file", args=["inference_benchmark", "workload.json"]))
        assert example["Content-Disposition"] == 'attachment; filename="workload.json"'
        spec = json.loads(example.content)
        assert spec == bench_workload.EXAMPLE_SPEC and bench_workload.validate(spec)[1] == []
        schema = json.loads(
            self.client.get(
                reverse("portfolio:contract-file", args=["inference_benchmark", "workload.schema.json"])
            ).content
        )
        assert schema == bench_workload.SPEC_SCHEMA

    def test_an_unknown_file_or_kind_is_404(self):
        for kind, name in (
            ("inference_benchmark", "kv_calculator.py"),
            ("document", "workload.json"),
            ("kv_calculator", "x.py"),
        ):
            assert self.client.get(reverse("portfolio:contract-file", args=[kind, name])).status_code == 404

    def test_a_document_spec_has_no_contract(self):
        page = text(self.client.get(spec_page(ArtifactSpec.Kind.DOCUMENT, "01")))
        assert "Submission contract" not in page

    def test_the_contract_costs_no_queries(self):
        url = spec_page(ArtifactSpec.Kind.INFERENCE_BENCHMARK, "07")
        document = spec_page(ArtifactSpec.Kind.DOCUMENT, "02")
        self.client.get(url)  # warm the contract caches
        with self.assertNumQueries(self._queries(document)):
            self.client.get(url)

    def _queries(self, url: str) -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            self.client.get(url)
        return len(captured)
