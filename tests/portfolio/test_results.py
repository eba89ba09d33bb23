"""Results schemas: published, checked as published, workload definitions required and named."""

from __future__ import annotations

import copy

from django.test import SimpleTestCase, TestCase

from portfolio import results
from portfolio.models import ResultUpload
from roadmap.models import ArtifactSpec
from tests.factories import create_artifact, create_artifact_spec

BENCH = copy.deepcopy(results.SCHEMAS["inference-benchmark"].example)


class SchemaTests(SimpleTestCase):
    def test_every_published_example_passes_its_own_schema(self):
        for schema in results.SCHEMAS.values():
            checked = schema.check(copy.deepcopy(schema.example))
            assert checked.schema == schema.name and checked.validation["valid"], schema.name

    def test_a_published_schema_carries_its_id_and_example(self):
        published = results.SCHEMAS["inference-benchmark"].published()
        assert published["$id"] == "layerwise:results/inference-benchmark/v1"
        assert set(published["properties"]["workload"]["required"]) >= {"model", "engine_version", "num_requests"}

    def test_specs_map_to_their_schemas(self):
        assert results.schema_name_for(None) == "generic"
        bench = ArtifactSpec(kind="inference_benchmark", slug="inference-benchmark-suite")
        assert results.schema_name_for(bench) == "inference-benchmark"
        assert results.schema_name_for(ArtifactSpec(kind="results", slug="serving-engine-matrix")) == (
            "serving-engine-matrix"
        )
        assert results.schema_name_for(ArtifactSpec(kind="document", slug="tiny-transformer")) == "generic"


class BenchmarkValidationTests(SimpleTestCase):
    def invalid(self, name: str, document: object) -> results.ResultsInvalid:
        with self.assertRaises(results.ResultsInvalid) as caught:
            results.SCHEMAS[name].check(document)
        return caught.exception

    def test_a_benchmark_without_its_workload_is_refused_naming_every_missing_field(self):
        document = copy.deepcopy(BENCH)
        for name in ("model", "dtype", "hardware", "engine_version", "concurrency"):
            del document["workload"][name]
        error = self.invalid("inference-benchmark", document)
        assert "The workload definition is missing model, dtype, hardware, engine_version, concurrency" in (
            error.message
        )
        assert {e["path"] for e in error.errors} >= {"workload.model", "workload.concurrency"}

    def test_a_benchmark_with_no_workload_at_all_is_refused(self):
        error = self.invalid("inference-benchmark", {"claimed": {"mean_ttft_ms": 5}})
        assert "workload" in error.message

    def test_claims_are_recomputed_from_raw_arrays(self):
        checked = results.SCHEMAS["inference-benchmark"].check(copy.deepcopy(BENCH))
        row = checked.recomputation["comparisons"][0]
        assert row["metric"] == "mean_ttft_ms" and row["status"] == "ok"
        assert abs(row["recomputed"] - 55.0) < 1e-6

    def test_a_wrong_claim_is_flagged(self):
        document = copy.deepcopy(BENCH)
        document["claimed"] = {"mean_ttft_ms": 20.0}
        checked = results.SCHEMAS["inference-benchmark"].check(document)
        assert [f["metric"] for f in checked.recomputation["flagged"]] == ["mean_ttft_ms"]

    def test_each_engine_of_a_matrix_needs_the_whole_workload(self):
        document = copy.deepcopy(results.SCHEMAS["serving-engine-matrix"].example)
        document["entries"].append({"label": "SGLang", "claimed": {"mean_ttft_ms": 50.0}})
        error = self.invalid("serving-engine-matrix", document)
        assert "entries[1]: the workload definition is missing engine, engine_version" in error.message

    def test_a_quantization_variant_needs_its_method_and_quality(self):
        document = copy.deepcopy(results.SCHEMAS["quantization-benchmark"].example)
        del document["entries"][0]["variant"]["bits"]
        del document["entries"][0]["quality"]
        error = self.invalid("quantization-benchmark", document)
        paths = {e["path"] for e in error.errors}
        assert {"entries[0].variant.bits", "entries[0].quality"} <= paths

    def test_unknown_fields_are_named(self):
        document = copy.deepcopy(results.SCHEMAS["generic"].example) | {"colour": "blue"}
        error = self.invalid("generic", document)
        assert error.errors == [{"path": "colour", "message": "unknown field"}]

    def test_types_are_checked_with_paths(self):
        document = copy.deepcopy(results.SCHEMAS["reasoning-eval"].example)
        document["questions"][0]["correct"] = "yes"
        error = self.invalid("reasoning-eval", document)
        assert error.errors == [{"path": "questions[0].correct", "message": "must be a boolean"}]

    def test_text_that_is_not_json_is_refused_with_its_position(self):
        with self.assertRaises(results.ResultsInvalid) as caught:
            results.parse('{"summary": ')
        assert "line 1" in caught.exception.message


class ResultUploadTests(TestCase):
    def test_a_valid_document_is_stored_as_self_reported_with_its_checks(self):
        artifact = create_artifact(spec=create_artifact_spec(kind="inference_benchmark"))
        upload = artifact.add_results(copy.deepcopy(BENCH), notes="on my H100")
        assert upload.schema == "inference-benchmark" and upload.schema_version == "1"
        assert upload.sha256 == results.canonical_sha256(BENCH)
        assert upload.recomputation["comparisons"] and upload.validation["valid"]

    def test_an_invalid_document_stores_nothing(self):
        artifact = create_artifact(spec=create_artifact_spec(kind="inference_benchmark"))
        with self.assertRaises(results.ResultsInvalid):
            artifact.add_results({"claimed": {}})
        assert not ResultUpload.objects.exists()
