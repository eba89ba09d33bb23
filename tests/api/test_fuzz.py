"""Schemathesis against /api/v1/openapi.json on a live test server, with an API token: every
operation, every check, a bounded number of examples per operation (about two minutes on the
2-core development machine). Zero server errors, and no schema-validation mismatch: what the
schema declares is what the API accepts. The objects the operations need exist (a learner with an
artifact, a version, a run, a submitted gate request to decide) and the schema's examples and
links lead the fuzzer to them.

Marked `fuzz`: bin/run-tests runs it in the SQLite pass only (the API is the same on both)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from django.test import LiveServerTestCase

from roadmap.models import ArtifactSpec, EvaluationGate, Topic
from tests.assessments.gates import FlushableAuditMixin
from tests.factories import (
    create_artifact,
    create_gate_request,
    create_run,
    create_token,
    create_user,
    create_version,
    load_real_content,
)

HERE = Path(__file__).resolve().parent
EXAMPLES_PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES", "25"))


# Operations whose valid input depends on the data, not only on the schema, so a request the schema
# allows may rightly be refused with a 422 naming the field: positive_data_acceptance is off for
# these alone (every other check, negative_data_rejection included, runs on them).
DATA_DEPENDENT = {
    # spec codes and topic slugs are the catalogue's rows, and a topic must be of the spec's roadmap
    "POST /api/v1/artifacts": "spec and topics name catalogue rows",
    # the document must follow the results schema of the artifact in the path; the version must exist
    "POST /api/v1/artifacts/{artifact_id}/results": "the artifact's own results schema",
    # a `file` part sent without a filename is a form field, not a file (Django reads it so)
    "POST /api/v1/artifacts/{artifact_id}/versions": "a file part needs a filename",
    # the evidence must be the learner's own artifacts and uploads; ticks index the gate's criteria
    "POST /api/v1/gates/{roadmap}/{layer}/requests": "evidence ids must be yours",
    # marks are one per criterion of this request's gate
    "POST /api/v1/gate-requests/{request_id}/decision": "one mark per criterion",
}


def operation(op: str, **parameters: object) -> str:
    """A [[operations]] table: the ids of the objects this test made, for one operation."""
    values = ", ".join(
        f'"path.{key}" = {value!r}' if isinstance(value, int) else f'"path.{key}" = "{value}"'
        for key, value in parameters.items()
    )
    table = f'\n[[operations]]\ninclude-name = "{op}"\n'
    if values:
        table += f"parameters = {{ {values} }}\n"
    if op in DATA_DEPENDENT:
        table += "checks.positive_data_acceptance.enabled = false\n"
    return table


@pytest.mark.fuzz
@pytest.mark.slow
class ApiFuzzTests(FlushableAuditMixin, LiveServerTestCase):
    def test_the_api_answers_every_generated_request_without_a_server_error(self):
        tmp_path = Path(tempfile.mkdtemp(prefix="layerwise-fuzz-"))
        self.addCleanup(shutil.rmtree, tmp_path, True)
        load_real_content()
        learner = create_user(username="learner")
        _, raw = create_token(user=learner)
        spec = ArtifactSpec.objects.get(roadmap__slug="llm-systems-engineering", code="09")
        artifact = create_artifact(owner=learner, spec=spec)
        with mock.patch("portfolio.models.runs.RunAttempt.send"):
            run = create_run(version=create_version(artifact=artifact))
        upload = artifact.add_results(artifact.results_schema.example, version=run.version)
        gate = (
            EvaluationGate.objects.filter(layer__roadmap__slug="llm-systems-engineering")
            .select_related("layer")
            .first()
        )
        assert gate is not None
        gate_request = create_gate_request(learner=learner, gate=gate, submit=True)
        roadmap, layer = gate.layer.roadmap.slug, gate.layer.slug
        topic = Topic.objects.filter(layer=gate.layer).first()
        assert topic is not None
        config = tmp_path / "schemathesis.toml"
        config.write_text(
            (HERE / "schemathesis.toml").read_text()
            + operation("GET /api/v1/runs/{run_id}", run_id=run.pk)
            + operation("GET /api/v1/gate-requests/{request_id}", request_id=gate_request.pk)
            + operation("POST /api/v1/gate-requests/{request_id}/decision", request_id=gate_request.pk)
            + operation("POST /api/v1/gates/{roadmap}/{layer}/requests", roadmap=roadmap, layer=layer)
            + operation("PUT /api/v1/me/progress/{roadmap}/{topic}", roadmap=roadmap, topic=topic.slug)
            + operation("POST /api/v1/artifacts/{artifact_id}/versions", artifact_id=artifact.pk)
            + operation("POST /api/v1/artifacts/{artifact_id}/results", artifact_id=artifact.pk)
            + operation("GET /api/v1/artifacts/{artifact_id}", artifact_id=artifact.pk)
            + operation("GET /api/v1/artifacts/{artifact_id}/versions", artifact_id=artifact.pk)
            + operation("GET /api/v1/results/{result_id}", result_id=upload.pk)
            + operation("POST /api/v1/artifacts")
            + operation("GET /api/v1/roadmaps/{slug}", slug=roadmap)
            + operation("GET /api/v1/schemas/results/{name}", name="generic")
        )
        report = tmp_path / "report"
        with mock.patch.dict(os.environ, {"RATE_LIMIT_RUN_SUBMISSIONS": "100000/1h"}):
            done = subprocess.run(
                [
                    str(Path(sys.executable).parent / "schemathesis"),
                    "--config-file",
                    str(config),
                    "run",
                    f"{self.live_server_url}/api/v1/openapi.json",
                    "--header",
                    f"Authorization: Bearer {raw}",
                    "--max-examples",
                    str(EXAMPLES_PER_OPERATION),
                    "--seed",
                    "13",
                    "--workers",
                    "1",
                    "--no-color",
                    "--report",
                    "ndjson",
                    "--report-dir",
                    str(report),
                ],
                capture_output=True,
                text=True,
                timeout=600,
            )
        if os.environ.get("FUZZ_OUTPUT"):
            Path(os.environ["FUZZ_OUTPUT"]).write_text(done.stdout + done.stderr)
        assert done.returncode == 0, done.stdout[-12000:] + done.stderr[-3000:]
        assert "Server error" not in done.stdout
