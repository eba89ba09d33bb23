"""Issue 14, item 1 for the benchmark: a refused workload's run page says what was refused, why, and
what to change, naming the field. The reasons are the real validator's and fitting's, so a change of
their wording that the page no longer understands fails here."""

from __future__ import annotations

import html
import re

from django.test import TestCase

from portfolio import bench_refusals
from portfolio.runner import protocol
from portfolio.runner.bench import catalog, fitting, workload
from tests.factories import create_run, create_user
from tests.portfolio.recorded import finish_with
from tests.portfolio.test_benchmark_results import benchmark_artifact, benchmark_run

CPU = {"kind": "cpu", "name": "cpu", "memory_bytes": 4 * 1024**3}
GPU = {"kind": "cuda", "name": "a small GPU", "memory_bytes": 1 * 1024**3}


def spec(**change):
    base = {
        "architecture": "tiny-llama",
        "dtype": "float32",
        "prompt_tokens": 16,
        "output_tokens": 8,
        "concurrency": [1, 2],
        "requests": 8,
    }
    normalised, errors = workload.validate(base | change)
    assert errors == [], errors
    return normalised


def refusal_of(normalised, device) -> str:
    ok, reason = fitting.fits(normalised, device)
    assert not ok, reason
    return reason


def fields(refusal) -> list[str]:
    return [change.field for change in refusal.changes]


class Run:
    """What explain reads of a run."""

    def __init__(self, message="", metrics=None, verdict=protocol.VERDICT_INVALID_SUBMISSION):
        self.message, self.metrics, self.verdict = message, metrics or {}, verdict


def test_an_invalid_spec_names_each_field_with_the_validators_words_and_what_it_is_for():
    _, errors = workload.validate(
        {"architecture": "tiny-llama", "prompt_tokens": 16, "output_tokens": 8, "concurrency": [0], "requests": 0}
    )
    refusal = bench_refusals.explain(Run(metrics={"spec_errors": errors}))
    assert "refused before anything ran" in refusal.what
    assert {"requests", "concurrency[0]"} <= set(fields(refusal))
    advice = {c.field: c.advice for c in refusal.changes}
    assert advice["requests"].startswith(next(e["message"] for e in errors if e["path"] == "requests").rstrip("."))
    assert "requests each level measures" in advice["requests"]


def test_a_message_from_before_the_errors_were_stored_is_read_the_same_way():
    refusal = bench_refusals.explain(
        Run(message="the workload spec is invalid: dtype: must be one of float32; seed: is odd")
    )
    assert fields(refusal) == ["dtype", "seed"]
    assert refusal.changes[0].advice.startswith("must be one of float32. Use one of the data types")


def test_each_of_fittings_refusals_names_the_fields_to_change():
    gpu_model = next(iter(catalog.GPU_CATALOG))
    cases = {
        "architecture": refusal_of(spec(architecture=gpu_model), CPU),
        "dtype": refusal_of(spec(dtype="float16"), CPU),
        "requests": refusal_of(spec(requests=500, output_tokens=200, concurrency=[1, 2, 4, 8, 16]), CPU),
        "concurrency": refusal_of(spec(concurrency=[16], output_tokens=200), GPU),
    }
    for first, reason in cases.items():
        refusal = bench_refusals.explain(Run(metrics={"refusal": reason}))
        assert refusal.why == reason
        assert refusal.changes and first in fields(refusal), (reason, fields(refusal))
        assert "cannot run it as written" in refusal.what


def test_a_run_that_was_not_refused_has_no_refusal():
    assert bench_refusals.explain(Run(verdict="passed")) is None
    assert bench_refusals.explain(Run(message="the harness crashed")) is None


class RefusedRunPageTests(TestCase):
    def test_the_run_page_says_what_was_refused_why_and_what_to_change(self):
        reason = refusal_of(spec(dtype="float16"), CPU)
        artifact = benchmark_artifact()
        run = finish_with(
            create_run(version=benchmark_run(artifact=artifact).version),
            "bench_cpu_result.json",
            outcome=protocol.OUTCOME_SUBMISSION_FAILED,
            verdict=protocol.VERDICT_INVALID_SUBMISSION,
            score=None,
            message=f"this runner cannot hold the workload: {reason}",
            tests=[],
            metrics={"refusal": reason},
            raw={},
        )
        self.client.force_login(artifact.owner)
        page = html.unescape(self.client.get(run.get_absolute_url()).content.decode())
        section = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page.split('id="refusal"')[1].split("</section>")[0]))
        assert "The runner refused your workload" in section
        assert f"Why: {reason}" in section
        assert "dtype: Use float32 or bfloat16 on a CPU runner." in section
        assert "upload a fixed version" in section
        # Said in the section, not again above it as the message nor below as a raw metric.
        assert reason not in page.split('id="refusal"')[0]
        assert '<th scope="row">refusal</th>' not in page

        self.client.force_login(create_user())
        assert self.client.get(run.get_absolute_url()).status_code == 404


class OutlierTests(TestCase):
    def test_a_request_slower_than_three_medians_is_flagged_and_named(self):
        from portfolio.reports import BenchmarkReport

        run = benchmark_run()
        levels = run.metrics["levels"]
        levels[0]["e2e_ms"] = {**levels[0]["e2e_ms"], "p50": 100.0, "max": 5925.0}
        for level in levels[1:]:
            for key in ("ttft_ms", "tpot_ms", "itl_ms", "e2e_ms"):
                if level.get(key):
                    level[key] = {**level[key], "max": level[key]["p50"]}
        type(run).objects.filter(pk=run.pk).update(metrics=run.metrics, raw={})
        run.refresh_from_db()
        report = BenchmarkReport.of(run)
        flagged = [line for line in report.outliers() if "E2E" in line]
        assert flagged == [
            f"concurrency {levels[0]['concurrency']}: the slowest E2E latency (5,925.0 ms) is 59.2× the median (100.0 ms)"
        ]
        self.client.force_login(run.version.artifact.owner)
        assert "59.2× the median" in html.unescape(self.client.get(run.get_absolute_url()).content.decode())
