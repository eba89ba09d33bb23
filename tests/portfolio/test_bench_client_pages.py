"""Spec 07 takes two submissions (issue 16): the learner's benchmark client (bench_client.py,
graded against the reference server) and, as before, a workload JSON run by our harness. The page
says which is which, an upload goes to the grader of what it holds, and a gate that requires 07
needs a passing run of the client."""

from __future__ import annotations

import ast
import html
import io
import json
import zipfile

from django.test import TestCase
from django.urls import reverse

from assessments.models import GateRequest
from portfolio.runner.benchclient import cases
from portfolio.uploads import UploadRefused, check_runnable, inspect_file
from roadmap.models import ArtifactSpec
from tests.assessments.gates import GateWorld
from tests.factories import (
    create_artifact,
    create_artifact_spec,
    create_gate_request,
    create_run,
    create_version,
    finish_run,
)
from tests.portfolio.test_spec_contracts import spec_page

CLIENT = b"def run(base_url, workload):\n    return {}\n"
WORKLOAD = json.dumps(
    {
        "architecture": "tiny-llama",
        "dtype": "float32",
        "prompt_tokens": 8,
        "output_tokens": 4,
        "concurrency": [1],
        "requests": 2,
    }
).encode()


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


class ClientContractPageTests(TestCase):
    def test_the_07_page_says_which_submission_is_which_and_that_the_gate_needs_the_client(self):
        page = html.unescape(self.client.get(spec_page(ArtifactSpec.Kind.INFERENCE_BENCHMARK, "07")).content.decode())
        assert "Two submissions: which is which" in page
        assert "A gate that requires 07 needs a passing run of your client." in page
        assert "def run(base_url: str, workload: dict) -> dict" in page
        for item in cases.public_cases():
            assert f"<code>{item['name']}</code>" in page and item["why"] in page
        for item in cases.hidden_cases():
            assert f"<code>{item['name']}</code>" not in page and item["why"] not in page
        assert f"And {len(cases.hidden_cases())} hidden cases" in page
        assert "90th percentile loopback round trip" in page

    def test_the_skeleton_is_python_that_states_the_contract_and_measures_nothing(self):
        response = self.client.get(reverse("portfolio:contract-file", args=["inference_benchmark", "bench_client.py"]))
        assert response["Content-Disposition"] == 'attachment; filename="bench_client.py"'
        source = response.content.decode()
        tree = ast.parse(source)
        assert [node.name for node in tree.body if isinstance(node, ast.FunctionDef)] == ["run"]
        for word in ("chunk_times_s", "first_token_s", "time.perf_counter()", "include_usage", "goodput_rps"):
            assert word in source, word
        assert "raise NotImplementedError" in source

    def test_the_public_cases_download_is_what_run_receives(self):
        data = json.loads(
            self.client.get(
                reverse("portfolio:contract-file", args=["inference_benchmark", "public_cases.json"])
            ).content
        )
        assert [c["name"] for c in data["cases"]] == [c["name"] for c in cases.public_cases()]
        assert data["cases"][0]["workload"] == cases.workload(cases.public_cases()[0])
        assert all("server" not in c for c in data["cases"])


class ClientUploadTests(TestCase):
    def test_a_07_upload_may_be_python_or_json_and_nothing_else(self):
        check_runnable("inference_benchmark", inspect_file("bench_client.py", CLIENT))
        check_runnable("inference_benchmark", inspect_file("workload.json", WORKLOAD))
        check_runnable("inference_benchmark", inspect_file("c.zip", zipped({"bench_client.py": CLIENT})))
        for name, data in (("notes.txt", b"hi"), ("c.zip", zipped({"notes.txt": b"hi"}))):
            with self.assertRaises(UploadRefused) as caught:
                check_runnable("inference_benchmark", inspect_file(name, data))
            assert ".json or .py" in str(caught.exception) and "bench_client.py" in str(caught.exception)

    def test_python_runs_on_the_client_grader_and_json_on_the_harness(self):
        spec = create_artifact_spec(kind=ArtifactSpec.Kind.INFERENCE_BENCHMARK)
        artifact = create_artifact(spec=spec)
        code = create_run(version=create_version(artifact=artifact, data=CLIENT, filename="bench_client.py"))
        packed = create_run(
            version=create_version(artifact=artifact, data=zipped({"src/bench_client.py": CLIENT}), filename="c.zip")
        )
        workload = create_run(version=create_version(artifact=artifact, data=WORKLOAD, filename="workload.json"))
        assert (code.grader, code.grader_version) == ("bench_client", "1")
        assert packed.grader == "bench_client"
        assert (workload.grader, workload.grader_version) == ("inference_benchmark", "1")
        assert code.graded_by_current_grader and workload.graded_by_current_grader


class GateNeedsTheClientTests(GateWorld, TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.bench_spec = create_artifact_spec(
            roadmap=cls.roadmap, kind=ArtifactSpec.Kind.INFERENCE_BENCHMARK, code="07", title="Inference Benchmark"
        )
        cls.gate.required_artifacts.set([cls.bench_spec])
        cls.bench = create_artifact(owner=cls.learner, spec=cls.bench_spec)

    def requirement(self, version):
        request: GateRequest = create_gate_request(
            learner=self.learner, gate=self.gate, versions=(version,), submit=True
        )
        [found] = request.requirements()
        return found, request

    def test_a_passing_workload_run_does_not_verify_07(self):
        version = create_version(artifact=self.bench, data=WORKLOAD, filename="workload.json")
        finish_run(create_run(version=version), verdict="passed")
        found, request = self.requirement(version)
        assert found.state == "needs_code" and found.blocks_approval
        assert "benchmark client (bench_client.py)" in found.message
        assert request.machine_evidence_gaps() == [found]

    def test_a_passing_client_run_verifies_07(self):
        version = create_version(artifact=self.bench, data=CLIENT, filename="bench_client.py")
        finish_run(create_run(version=version), verdict="passed")
        found, request = self.requirement(version)
        assert found.state == "ok" and not found.blocks_approval
        assert request.machine_evidence_gaps() == []

    def test_a_failed_client_run_does_not(self):
        version = create_version(artifact=self.bench, data=CLIENT, filename="bench_client.py")
        finish_run(create_run(version=version), verdict="failed")
        found, _ = self.requirement(version)
        assert found.state == "not_passed"
