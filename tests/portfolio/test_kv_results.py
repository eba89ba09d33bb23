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


def categorised(run: Run) -> Run:
    """A recorded grader-1 run as grader 2 words it: each case's category, hint (failing), why and
    printed output (public ones), from the case table itself."""
    tests = []
    for t in run.tests:
        item = cases.case(t["name"])
        details = {**t["details"], "category": item["category"]}
        if t["status"] != "passed":
            details["hint"] = cases.CATEGORY_HINTS[item["category"]]
        if t["visibility"] == "visible":
            details["why"] = item["why"]
            details["output_tail"] = "debug: heads=32" if t["status"] == "failed" else ""
        tests.append({**t, "details": details})
    Run.objects.filter(pk=run.pk).update(tests=tests, grader_version="2")
    run.refresh_from_db()
    return run


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
        # One score display: the counts and the score above the cases, not the run's message or
        # a second score in the header as well.
        assert "68 %" in html and "score <strong>" not in html and "run-message" not in html
        public, hidden = rows(html, "cases"), rows(html, "cases hidden-cases")
        assert len(public) == len(cases.public_cases()) and len(hidden) == len(cases.hidden_cases())

    def test_a_public_row_shows_config_inputs_expected_observed_error_and_result(self):
        run = kv_run()
        test = next(t for t in run.tests if t["name"] == "mistral-7b-6k-past-window-fp32")
        row = next(r for r in rows(self.page(run), "cases") if "mistral-7b-6k-past-window-fp32" in r)
        assert "Mistral 7B" in row and "mistral-7b-v0.1" in row
        assert "batch 1" in row and "seq_len 6,000" in row and "float32" in row
        assert f"{test['expected']:,}" in row and f"{test['observed']:,}" in row
        assert f"{test['rel_error'] * 100:.1f}%" in row and "pill-bad" in row and "off by" in row

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
        assert "87.5%" in hidden[-1] and "failed" in hidden[-1]
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


class KVCategoryTests(TestCase):
    """Grader 2: each case's category and, failing, its hint; a public case's why and printed output."""

    def test_categories_hints_why_and_printed_output_show_and_hidden_inputs_do_not(self):
        run = categorised(kv_run())
        self.client.force_login(run.version.artifact.owner)
        html = self.client.get(run.get_absolute_url()).content.decode()
        window = next(r for r in rows(html, "cases") if "mistral-7b-6k-past-window-fp32" in r)
        assert "Checks: sliding window past the window" in window
        assert "Why it is here: " in window
        assert "Hint: Past the sliding window" in window
        assert "What your calculator printed" in window and "debug: heads=32" in window
        hidden = next(r for r in rows(html, "cases hidden-cases") if "hidden-04" in r)
        assert "sliding window past the window" in hidden and "Hint: " in hidden
        assert "Upload a fixed version" in html
        assert "e+" not in html.split('id="kv-results"')[1].split("About this run")[0]


class KVProgressWordsTests(TestCase):
    def test_live_progress_reads_as_words_not_stage_names(self):
        run = kv_run()
        Run.objects.filter(pk=run.pk).update(status=Run.Status.RUNNING, finished_at=None)
        attempt = run.current_attempt
        type(attempt).objects.filter(pk=attempt.pk).update(status="running", finished_at=None)
        attempt.refresh_from_db()
        for seq, (stage, detail) in enumerate(
            [
                ("received", {}),
                ("step", {"step": "learner", "status": "started"}),
                ("call", {"status": "started", "total": 22}),
                ("step", {"step": "truth", "status": "started"}),
                ("measure", {"done": 3, "total": 10}),
            ]
        ):
            attempt.record_progress({"stage": stage, "seq": seq, **detail})
        attempt.refresh_from_db()
        assert attempt.timeline_words() == [
            "the runner has your file",
            "starting your code in the sandbox",
            "calling your calculator on 22 cases",
            "starting the measurement of the truth",
            "measuring the truth: building 10 models and counting their cache (3 done)",
        ]
        self.client.force_login(run.version.artifact.owner)
        html = self.client.get(run.get_absolute_url()).content.decode()
        assert "measuring the truth: building 10 models" in html
        assert "truth started" not in html and "learner started" not in html
