"""The results page of an inference benchmark run: what it measured on, the tables, the roofline,
the charts, and the comparison with an earlier run of the same artifact."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import timedelta

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext

from portfolio.models import Artifact, Run
from portfolio.runner.bench import metrics, roofline
from portfolio.templatetags.portfolio_tags import num
from roadmap.models import ArtifactSpec
from tests.factories import add_member, create_run, create_runnable_artifact, create_team, create_user, create_version
from tests.portfolio.recorded import finish_with

SVG = "{http://www.w3.org/2000/svg}"


def benchmark_artifact(*, owner=None) -> Artifact:
    return create_runnable_artifact(owner=owner or create_user(), kind=ArtifactSpec.Kind.INFERENCE_BENCHMARK)


def benchmark_run(*, artifact=None, recorded="bench_cpu_result.json", **change) -> Run:
    artifact = artifact or benchmark_artifact()
    version = create_version(
        artifact=artifact, data=json.dumps({"architecture": "tiny-llama"}).encode(), filename="workload.json"
    )
    return finish_with(create_run(version=version), recorded, **change)


def cells(html: str) -> dict[tuple[str, str], str]:
    """{(concurrency, metric): data-value} of the page's metric tables."""
    found = {}
    for row in re.finditer(r'<tr data-concurrency="(\d+)">(.*?)</tr>', html, re.S):
        for cell in re.finditer(r'data-metric="([^"]+)" data-value="([^"]*)">(.*?)</td>', row.group(2), re.S):
            found[(row.group(1), cell.group(1))] = (cell.group(2), cell.group(3))
    return found


def svgs(html: str) -> list[ET.Element]:
    """The charts on a page, parsed as XML (ElementTree raises on anything malformed)."""
    return [ET.fromstring(match) for match in re.findall(r'<svg [^>]*class="chart".*?</svg>', html, re.S)]


class BenchmarkRunPageTests(TestCase):
    def page(self, run: Run, user=None, **params) -> str:
        self.client.force_login(user or run.version.artifact.owner)
        response = self.client.get(run.get_absolute_url(), params)
        assert response.status_code == 200
        return response.content.decode()

    def test_it_says_plainly_that_a_cpu_run_ran_on_a_cpu_with_static_batching(self):
        run = benchmark_run()
        html = self.page(run)
        assert "This ran on a CPU, not a GPU" in html and "AMD EPYC" in html
        assert "Batching: static" in html and "closed-loop arrival" in html
        assert "tiny-llama" in html and "7,014,656" in html and "8 to 24 (uniform per request)" in html
        assert "TTFT ≤ 200 ms, TPOT ≤ 50 ms" in html
        assert "peak RSS (VmHWM" in html
        assert "{&quot;" not in html and "{&#x27;" not in html  # no JSON dumps of the metrics

    def test_a_gpu_run_names_its_gpu_and_reports_device_memory(self):
        run = benchmark_run(recorded="bench_gpu_result.json")
        html = self.page(run)
        assert "Measured on <strong>NVIDIA H100 80GB HBM3</strong>" in html
        assert "not a GPU" not in html
        assert "torch.cuda.max_memory_allocated" in html and "timed with CUDA events" in html

    def test_every_number_on_the_page_is_recomputed_from_the_stored_raw_timings(self):
        for name in ("bench_cpu_result.json", "bench_gpu_result.json"):
            run = benchmark_run(recorded=name)
            raw = run.raw["benchmark"]
            expected = metrics.metrics_from_harness_raw(raw, run.metrics["spec"]["slo"])["levels"]
            shown = cells(self.page(run))
            assert len(shown) == len(expected) * 20, name
            for level, raw_level, stored in zip(
                expected, raw["levels"], run.metrics["roofline"]["levels"], strict=True
            ):
                c = str(level["concurrency"])
                again = roofline.level_roofline(
                    raw_level,
                    stored["weight_bytes_read_per_step"],
                    stored["kv_bytes_per_token"],
                    stored["bandwidth_gb_per_s"],
                )
                want = {
                    f"{key}.{p}": level[key][p]
                    for key in ("ttft_ms", "tpot_ms", "itl_ms", "e2e_ms")
                    for p in ("p50", "p95", "p99")
                }
                want |= {
                    key: level[key] for key in ("duration_s", "output_tokens_per_s", "requests_per_s", "goodput_rps")
                }
                want |= {
                    "peak_memory": raw_level["peak_memory"]["bytes"],
                    "roofline.floor": again["floor_tpot_ms_mean"],
                    "roofline.measured": again["measured_tpot_ms_mean"],
                    "roofline.efficiency": again["efficiency"],
                }
                for metric, value in want.items():
                    data_value, text = shown[(c, metric)]
                    assert float(data_value) == value, (name, c, metric)
                    if metric.endswith(("p50", "p95", "p99")):
                        # Shown: the percentile, or the maximum below its minimum sample count.
                        key, p = metric.split(".")
                        reported = level[key]["reported"][p]
                        assert text.split("<span")[0].strip() == num(reported["value"]), (name, c, metric)
                        note = f"max of {reported['n']}" if reported["is_max"] else f"n={reported['n']}"
                        assert note in text, (name, c, metric)
                    elif metric.endswith("_per_s"):
                        assert text.strip() == num(value), (name, c, metric)

    def test_stored_metrics_that_disagree_with_the_raw_timings_are_not_shown_and_are_flagged(self):
        run = benchmark_run()
        honest = cells(self.page(run))
        tampered = dict(run.metrics)
        tampered["levels"] = [dict(level, output_tokens_per_s=1e9) for level in run.metrics["levels"]]
        Run.objects.filter(pk=run.pk).update(metrics=tampered)
        html = self.page(run)
        assert cells(html) == honest and "1,000,000,000" not in html
        assert "differ from a recomputation" in html

    def test_the_roofline_states_its_bandwidth_and_weights(self):
        html = self.page(benchmark_run())
        assert "Measured copy bandwidth" in html and "Tensor.copy_" in html
        assert "19,670,016 B" in html  # weight bytes read per decode step, from the recorded run
        assert "Floor TPOT (ms)" in html and "At large batches decode becomes compute-bound" in html

    def test_the_definitions_with_their_vllm_notes_are_on_the_page(self):
        html = self.page(benchmark_run())
        for definition in metrics.DEFINITIONS:
            assert definition["metric"].replace("(", "").split()[0] in html
        assert "vLLM measures from the HTTP request" in html

    def test_the_charts_are_well_formed_svg_with_axes_units_and_a_legend(self):
        run = benchmark_run()
        charts = svgs(self.page(run))
        titles = [chart.find(f"{SVG}title").text for chart in charts]
        assert titles[:4] == [
            "TTFT percentiles (ms)",
            "TPOT percentiles (ms)",
            "E2E latency percentiles (ms)",
            "Output throughput (tokens/s)",
        ]
        latency = charts[0]
        texts = [t.text for t in latency.iter(f"{SVG}text")]
        assert "concurrency (requests per batch)" in texts and "milliseconds" in texts
        assert {"1", "2", "4"} <= set(texts)  # the x ticks
        assert {"p50 · this run", "p95 · this run", "p99 · this run"} <= set(texts)
        series = [
            g
            for g in latency.iter(f"{SVG}g")
            if "chart-series" in g.get("class", "") and "chart-legend-item" not in g.get("class")
        ]
        assert [len(g.findall(f"{SVG}circle")) for g in series] == [3, 3, 3]
        assert all(g.find(f"{SVG}path") is not None for g in series)

    def test_a_run_of_an_uploaded_results_file_shows_claimed_against_recomputed(self):
        from portfolio.runner.bench import uploads
        from tests.portfolio.test_upload_results_pages import RAW, WORKLOAD

        checked = uploads.recompute_upload({"workload": WORKLOAD, "claimed": {"completed": 5}, "raw": RAW})
        run = benchmark_run(metrics={"upload": checked}, raw={}, verdict="wrong", outcome="completed")
        html = self.page(run)
        assert "Your uploaded results, recomputed" in html and "counts must match exactly" in html
        assert "Latency by level" not in html

    def test_a_reviewer_of_the_learners_team_sees_the_results(self):
        run = benchmark_run()
        reviewer = create_user()
        create_team(members={run.version.artifact.owner: "member", reviewer: "reviewer"})
        assert "Latency by level" in self.page(run, user=reviewer)

    def test_another_user_gets_404(self):
        run = benchmark_run()
        self.client.force_login(create_user())
        assert self.client.get(run.get_absolute_url()).status_code == 404


class BenchmarkComparisonTests(TestCase):
    def setUp(self):
        self.owner = create_user()
        self.artifact = benchmark_artifact(owner=self.owner)
        self.earlier = benchmark_run(artifact=self.artifact, recorded="bench_cpu_result_eager.json")
        self.later = benchmark_run(artifact=self.artifact)
        Run.objects.filter(pk=self.earlier.pk).update(created_at=self.later.created_at - timedelta(hours=1))
        self.client.force_login(self.owner)

    def offered(self, run: Run) -> list[int]:
        html = self.client.get(run.get_absolute_url()).content.decode()
        return [int(pk) for pk in re.findall(r'<option value="(\d+)"', html)]

    def test_only_earlier_finished_runs_of_the_same_artifact_are_offered(self):
        other_artifact = benchmark_artifact(owner=self.owner)
        benchmark_run(artifact=other_artifact)
        benchmark_run(artifact=benchmark_artifact())  # someone else's, same spec
        create_run(version=create_version(artifact=self.artifact, data=b"{}", filename="workload.json"))  # still queued
        assert self.offered(self.later) == [self.earlier.pk]
        assert self.offered(self.earlier) == []

    def test_another_artifacts_or_another_users_run_cannot_be_compared(self):
        mine_elsewhere = benchmark_run(artifact=benchmark_artifact(owner=self.owner))
        someone_elses = benchmark_run(artifact=benchmark_artifact())
        for other in (mine_elsewhere, someone_elses, self.later):
            Run.objects.filter(pk=other.pk).update(created_at=self.earlier.created_at - timedelta(days=1))
            response = self.client.get(self.later.get_absolute_url(), {"compare": other.pk})
            assert response.status_code == 404, other

    def test_comparing_shows_both_runs_side_by_side_and_on_the_charts(self):
        html = self.client.get(self.later.get_absolute_url(), {"compare": self.earlier.pk}).content.decode()
        assert f"Run #{self.earlier.pk}" in html and "Stop comparing" in html
        assert html.count('<tr class="group">') == 4  # concurrency 1, 2, 4 in both; 8 only in the earlier run
        assert f"only in run #{self.earlier.pk}: nothing to compare" in html
        assert re.search(r"[+-]\d+\.\d %", html)
        charts = svgs(html)
        dashed = [
            g for g in charts[0].iter(f"{SVG}g") if "dashed" in g.get("class", "") and "legend" not in g.get("class")
        ]
        assert len(dashed) == 3 and sum(len(g.findall(f"{SVG}circle")) for g in dashed) == 3 * 4
        legend = {t.text for t in charts[3].iter(f"{SVG}text")}
        assert f"output tok/s · run #{self.earlier.pk}" in legend and "8" in legend

    def test_the_compare_form_is_a_plain_get_that_htmx_swaps_in_place(self):
        html = self.client.get(self.later.get_absolute_url()).content.decode()
        assert f'action="{self.later.get_absolute_url()}#compare"' in html and 'hx-target="#run-status"' in html
        fragment = self.client.get(
            self.later.get_absolute_url(), {"compare": self.earlier.pk}, headers={"HX-Request": "true"}
        ).content.decode()
        assert fragment.lstrip().startswith('<section id="run-status"') and "<html" not in fragment
        assert "Stop comparing" in fragment

    def test_a_reviewer_may_compare_the_learners_runs(self):
        reviewer = create_user()
        team = create_team(members={self.owner: "member"})
        add_member(team, reviewer, "reviewer")
        self.client.force_login(reviewer)
        assert self.client.get(self.later.get_absolute_url(), {"compare": self.earlier.pk}).status_code == 200


class BenchmarkPageQueryTests(TestCase):
    def count(self, url: str, **params) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert self.client.get(url, params).status_code == 200
        return len(captured)

    def test_the_page_and_its_comparison_do_not_grow_with_earlier_runs(self):
        owner = create_user()
        artifact = benchmark_artifact(owner=owner)
        first = benchmark_run(artifact=artifact)
        latest = benchmark_run(artifact=artifact)
        self.client.force_login(owner)
        small = (self.count(latest.get_absolute_url()), self.count(latest.get_absolute_url(), compare=first.pk))
        for _ in range(4):
            benchmark_run(artifact=artifact)
        latest = benchmark_run(artifact=artifact)
        assert (self.count(latest.get_absolute_url()), self.count(latest.get_absolute_url(), compare=first.pk)) == small


class OpenLoopResultsPageTests(TestCase):
    """A recorded continuous-batching Poisson sweep with an SLA search and two trials per rate
    (tiny-llama, 24 requests per run, on the 2-core development CPU; tests/portfolio/recorded.py)."""

    def page(self, run: Run, **params) -> str:
        self.client.force_login(run.version.artifact.owner)
        response = self.client.get(run.get_absolute_url(), params)
        assert response.status_code == 200
        return response.content.decode()

    def test_percentiles_show_their_interval_and_count_and_p99_below_100_requests_is_a_max(self):
        run = benchmark_run(recorded="bench_cpu_open_loop.json")
        html = self.page(run)
        assert "max of 24" in html  # p99 of 24 measured requests
        assert re.search(r"\d+\.\d+–\d+\.\d+, n=24", html)  # p50 with its interval
        assert "95 % percentile bootstrap over requests" in html
        assert "continuous (iteration-level)" in html and "open loop, poisson arrivals" in html

    def test_the_sweep_shows_the_highest_rate_meeting_the_sla_and_draws_the_limit(self):
        run = benchmark_run(recorded="bench_cpu_open_loop.json")
        html = self.page(run)
        answer = run.metrics["sweep"]["max_rate_meeting_sla"]
        assert f'data-metric="max_rate_meeting_sla" data-value="{answer!r}"' in html
        assert "Early stopping" in html and "stopped early" in html
        charts = {chart.find(f"{SVG}title").text: chart for chart in svgs(html)}
        curve = charts["TTFT against throughput, 95 % intervals"]
        assert curve.find(f".//{SVG}line[@class='chart-limit']") is not None  # the SLA line
        assert curve.find(f".//{SVG}polygon[@class='chart-band']") is not None  # the interval band
        assert "SLA TTFT p90 ≤ 150 ms" in [t.text for t in curve.iter(f"{SVG}text")]
        assert {"TTFT distribution", "TPOT distribution", "Sustained and goodput vs offered rate"} <= set(charts)
        assert any(title.startswith("Requests in flight") for title in charts)

    def test_trials_report_their_spread(self):
        html = self.page(benchmark_run(recorded="bench_cpu_open_loop.json"))
        assert "Spread between trials" in html and "2 trials" in html

    def test_a_comparison_whose_intervals_overlap_says_within_noise(self):
        artifact = benchmark_artifact()
        earlier = benchmark_run(artifact=artifact, recorded="bench_cpu_open_loop.json")
        later = benchmark_run(artifact=artifact, recorded="bench_cpu_open_loop.json")
        html = self.page(later, compare=earlier.pk)
        assert "within noise" in html
        assert '<span class="pill pill-ok">better</span>' not in html  # the same timings: nothing is better
        assert "TTFT p99 (max of 24)" in html  # compared as what it is

    def test_the_stored_metrics_equal_the_recomputation_including_intervals(self):
        run = benchmark_run(recorded="bench_cpu_open_loop.json")
        assert "differ from a recomputation" not in self.page(run)
