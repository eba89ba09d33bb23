"""The results page of a KV cache calculator run: public and hidden cases apart, verdict first."""

from __future__ import annotations

import re

from django.test import TestCase

from portfolio.models import Run
from portfolio.runner.kv import cases
from roadmap.models import ArtifactSpec
from tests.factories import (
    create_artifact,
    create_artifact_spec,
    create_roadmap,
    create_run,
    create_user,
    create_version,
)
from tests.portfolio.recorded import finish_with


def kv_run(name: str = "kv_cpu_result_no_window.json", **change) -> Run:
    spec = create_artifact_spec(
        roadmap=create_roadmap(slug="llm-systems-engineering"), kind=ArtifactSpec.Kind.KV_CALCULATOR, code="09"
    )
    artifact = create_artifact(owner=create_user(), spec=spec)
    version = create_version(
        artifact=artifact, data=b"def kv_cache_bytes(*a):\n    return 1\n", filename="kv_calculator.py"
    )
    return finish_with(create_run(version=version), name, **change)


def rows(html: str, table_class: str) -> list[str]:
    table = re.search(rf'<table class="{table_class}">(.*?)</table>', html, re.S).group(1)
    return re.findall(r"<tr class=\"case-\w+\">(.*?)</tr>", table, re.S)


class KVRunPageTests(TestCase):
    def page(self, run: Run) -> str:
        self.client.force_login(run.version.artifact.owner)
        response = self.client.get(run.get_absolute_url())
        assert response.status_code == 200
        return response.content.decode()

    def test_the_verdict_and_score_come_first_then_public_and_hidden_cases_apart(self):
        run = kv_run()
        html = self.page(run)
        assert html.index("verdict <strong>failed</strong>") < html.index("Public cases") < html.index("Hidden cases")
        assert "15 of 22 cases passed" in html and "68 %" in html
        public, hidden = rows(html, "cases"), rows(html, "cases hidden-cases")
        assert len(public) == len(cases.public_cases()) and len(hidden) == len(cases.hidden_cases())

    def test_a_public_row_shows_config_inputs_expected_observed_error_and_result(self):
        run = kv_run()
        test = next(t for t in run.tests if t["name"] == "mistral-7b-6k-past-window-fp32")
        row = next(r for r in rows(self.page(run), "cases") if "mistral-7b-6k-past-window-fp32" in r)
        assert "Mistral 7B" in row and "mistral-7b-v0.1" in row
        assert "batch 1" in row and "seq_len 6,000" in row and "float32" in row
        assert f"{test['expected']:,}" in row and f"{test['observed']:,}" in row
        assert f"{test['rel_error'] * 100:.2f} %" in row and "pill-bad" in row and "off by" in row

    def test_a_concurrency_case_shows_its_budget(self):
        row = next(r for r in rows(self.page(kv_run()), "cases") if "llama-3.1-8b-concurrency-8k" in r)
        assert "budget 60,000,000,000 B" in row and "max_concurrency" in row

    def test_a_hidden_row_shows_only_pass_or_fail_and_the_relative_error(self):
        run = kv_run()
        secret = dict(
            run.tests[-1],
            status="failed",
            expected=987654321,
            observed=123456789,
            rel_error=0.875,
            message="secret detail",
            details={"function": "kv_cache_bytes", "model": "secret-model", "seq_len": 31337},
        )
        Run.objects.filter(pk=run.pk).update(tests=[*run.tests[:-1], secret])
        hidden = rows(self.page(run), "cases hidden-cases")
        assert "87.50 %" in hidden[-1] and "failed" in hidden[-1]
        html = self.page(run)
        for leak in ("987654321", "987,654,321", "123,456,789", "secret detail", "secret-model", "31,337", "31337"):
            assert leak not in html, leak

    def test_metrics_are_a_readable_list_and_the_semantics_are_linked(self):
        run = kv_run(name="kv_gpu_result.json")
        html = self.page(run)
        assert "Tolerance</dt><dd>1% relative error" in html
        assert "Measured on</dt><dd>NVIDIA H100 80GB HBM3" in html
        assert "torch 2.11.0+cu130" in html
        assert f'href="{run.version.artifact.spec.get_absolute_url()}#semantics"' in html
        assert '"passed": 22' not in html and "{&quot;" not in html

    def test_another_user_gets_404(self):
        run = kv_run()
        self.client.force_login(create_user())
        assert self.client.get(run.get_absolute_url()).status_code == 404
