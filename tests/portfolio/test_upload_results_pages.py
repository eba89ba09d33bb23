"""The page of a self-reported results upload: workload, claimed against recomputed, charts."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from django.test import TestCase

from portfolio.models import ResultUpload
from roadmap.models import ArtifactSpec
from tests.factories import create_artifact, create_artifact_spec, create_runnable_artifact, create_user

WORKLOAD = {
    "model": "meta-llama/Llama-3.1-8B-Instruct",
    "dtype": "bfloat16",
    "hardware": "1x NVIDIA H100 80GB SXM",
    "engine": "vllm",
    "engine_version": "0.11.0",
    "prompt_tokens": 512,
    "output_tokens": 4,
    "concurrency": 2,
    "num_requests": 4,
}
RAW = {
    "start_times": [0.0, 0.01, 0.1, 0.11],
    "ttfts": [0.05, 0.06, 0.05, 0.07],
    "itls": [[0.01, 0.01, 0.01]] * 4,
    "latencies": [0.08, 0.09, 0.08, 0.10],
    "output_lens": [4, 4, 4, 4],
    "input_lens": [512] * 4,
}


def benchmark_upload(*, claimed: dict, raw: dict | None = RAW, owner=None) -> ResultUpload:
    artifact = create_runnable_artifact(owner=owner or create_user(), kind=ArtifactSpec.Kind.INFERENCE_BENCHMARK)
    document = {"workload": WORKLOAD, "claimed": claimed} | ({"raw": raw} if raw else {})
    return artifact.add_results(document)


def charts(html: str) -> list[ET.Element]:
    return [ET.fromstring(m) for m in re.findall(r'<svg [^>]*class="chart".*?</svg>', html, re.S)]


class BenchmarkUploadPageTests(TestCase):
    def page(self, upload: ResultUpload) -> str:
        self.client.force_login(upload.artifact.owner)
        response = self.client.get(upload.get_absolute_url())
        assert response.status_code == 200
        return response.content.decode()

    def test_claims_stand_beside_their_recomputation_and_a_difference_is_flagged_and_explained(self):
        upload = benchmark_upload(claimed={"mean_ttft_ms": 57.5, "output_throughput": 999.0, "completed": 4})
        html = self.page(upload)
        assert "Self-reported:" in html and "self-reported</span>" in html
        assert "1 difference flagged" in html
        mismatch = re.search(r'<tr class="claim-mismatch">(.*?)</tr>', html, re.S).group(1)
        assert "output_throughput" in mismatch and "999.0" in mismatch and "more than the 2% tolerance" in mismatch
        agreed = re.findall(r'<tr class="claim-ok">(.*?)</tr>', html, re.S)
        assert len(agreed) == 2 and any("mean_ttft_ms" in row and "57.50" in row for row in agreed)

    def test_the_workload_is_a_table_with_what_each_field_means(self):
        html = self.page(benchmark_upload(claimed={"completed": 4}))
        table = re.search(r'<table class="workload">(.*?)</table>', html, re.S).group(1)
        for label, value in (
            ("Hardware", "1x NVIDIA H100 80GB SXM"),
            ("Engine", "vllm"),
            ("Prompt tokens", "512"),
            ("Measured requests", "4"),
        ):
            assert re.search(rf"<th scope=\"row\">{label}</th><td>{re.escape(value)}</td>", table), label
        assert "maximum requests in flight" in table

    def test_raw_arrays_give_the_same_charts_as_a_run(self):
        html = self.page(benchmark_upload(claimed={"completed": 4}))
        found = charts(html)
        assert [c.find("{http://www.w3.org/2000/svg}title").text for c in found] == [
            "TTFT percentiles (ms), recomputed",
            "TPOT percentiles (ms), recomputed",
            "E2E latency percentiles (ms), recomputed",
            "Output throughput (tokens/s), recomputed",
        ]
        assert "concurrency 2" in {t.text for t in found[0].iter("{http://www.w3.org/2000/svg}text")}
        assert "vLLM measures from the HTTP request" in html

    def test_an_upload_without_raw_arrays_says_nothing_could_be_checked(self):
        html = self.page(benchmark_upload(claimed={"mean_ttft_ms": 50.0}, raw=None))
        assert "none of the claims could be checked" in html and not charts(html)
        assert 'class="claim-unverifiable"' in html and "no raw arrays uploaded" in html

    def test_a_serving_engine_matrix_shows_each_engine(self):
        spec = create_artifact_spec(kind=ArtifactSpec.Kind.RESULTS)
        ArtifactSpec.objects.filter(pk=spec.pk).update(slug="serving-engine-matrix")
        spec.refresh_from_db()
        artifact = create_artifact(owner=create_user(), spec=spec)
        shared = {k: v for k, v in WORKLOAD.items() if k not in ("engine", "engine_version")}
        entries = [
            {
                "label": label,
                "workload": {"engine": label.lower(), "engine_version": "1"},
                "claimed": {"completed": 4},
                "raw": RAW,
            }
            for label in ("vLLM", "SGLang")
        ]
        upload = artifact.add_results({"workload": shared, "entries": entries})
        html = self.page(upload)
        assert "<h2>vLLM</h2>" in html and "<h2>SGLang</h2>" in html
        ticks = {t.text for t in charts(html)[0].iter("{http://www.w3.org/2000/svg}text")}
        assert {"vLLM (c=2)", "SGLang (c=2)"} <= ticks

    def test_another_user_gets_404(self):
        upload = benchmark_upload(claimed={"completed": 4})
        self.client.force_login(create_user())
        assert self.client.get(upload.get_absolute_url()).status_code == 404
