"""What a run's or an upload's page shows, built from what the graders stored.

`report_for(run)` turns a finished run into a `BenchmarkReport` (inference_benchmark) or a
`KVReport` (kv_calculator), or None for anything else (the page then lists tests and metrics as
they are). `upload_report(upload)` does the same for a self-reported 07/08/10 results document.

A benchmark report is recomputed from the raw per-request timings stored with the run
(`run.raw["benchmark"]`) by the runner's own `bench.metrics` and `bench.roofline`, the code the
harness used, so the numbers on the page are the ones the stored timings give; the metrics the
runner stored beside them are compared with the recomputation and a difference is shown.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.utils.safestring import SafeString, mark_safe

from portfolio.charts import Chart, Series, XYChart, XYSeries
from portfolio.runner.bench import metrics as bench_metrics
from portfolio.runner.bench import results as bench_results
from portfolio.runner.bench import roofline as bench_roofline
from portfolio.runner.bench import stats as bench_stats
from portfolio.runner.bench import validity as bench_validity
from portfolio.runner.kv import catalog as kv_catalog
from portfolio.runner.kv import grade as kv_grade

if TYPE_CHECKING:
    from portfolio.models import ResultUpload, Run

BENCHMARK = "inference_benchmark"
KV = "kv_calculator"
TINY_TRANSFORMER = "tiny_transformer"
QUANTIZER = "quantizer"
# Graders whose every test carries a category and a hint: their runs' pages are a CaseReport.
BENCH_CLIENT = "bench_client"
CASE_GRADERS = (TINY_TRANSFORMER, QUANTIZER, BENCH_CLIENT)

# (key in a level's metrics, label) of the latency statistics, in the order the pages show them.
LATENCIES = (("ttft_ms", "TTFT"), ("tpot_ms", "TPOT"), ("itl_ms", "ITL"), ("e2e_ms", "E2E latency"))
CHARTED = (("ttft_ms", "TTFT"), ("tpot_ms", "TPOT"), ("e2e_ms", "E2E latency"))
PERCENTILES = ("p50", "p95", "p99")
MAX_CHART_RUNS = 6
MAX_DISTRIBUTION_LEVELS = 4


def report_for(run: Run, *, earlier: Run | None = None) -> BenchmarkReport | KVReport | CaseReport | None:
    if run.grader == BENCHMARK:
        report = BenchmarkReport.of(run)
        if report is not None and earlier is not None:
            report.earlier = BenchmarkReport.of(earlier)
        return report
    if run.grader == KV:
        return KVReport.of(run)
    if run.grader in CASE_GRADERS:
        return CaseReport.of(run)
    return None


# --- formatting ------------------------------------------------------------------------------


def gib(value: int | float | None) -> str:
    if value is None:
        return "—"
    if value >= 1024**3:
        return f"{value / 1024**3:.2f} GiB"
    return f"{value / 1024**2:.1f} MiB"


def describe_length(dist: Any) -> str:
    """A token-count field as people read it: "512", "16 to 64 (uniform)"."""
    if isinstance(dist, int):
        return f"{dist:,}"
    if isinstance(dist, dict) and dist.get("kind") == "fixed":
        return f"{dist['value']:,}"
    if isinstance(dist, dict) and dist.get("kind") == "uniform":
        return f"{dist['min']:,} to {dist['max']:,} (uniform per request)"
    return json.dumps(dist)


def describe_slo(slo: dict[str, float] | None) -> str:
    if not slo:
        return "none given (no goodput)"
    names = {"ttft_ms": "TTFT", "tpot_ms": "TPOT", "e2e_ms": "E2E"}
    # A fixed order: PostgreSQL's jsonb does not keep the keys in the order they were written.
    order = [*(k for k in names if k in slo), *sorted(k for k in slo if k not in names)]
    return ", ".join(f"{names.get(k, k)} ≤ {slo[k]:g} ms" for k in order)


# --- benchmark runs --------------------------------------------------------------------------


@dataclass
class BenchmarkReport:
    """One benchmark run as its results page shows it; see the module docstring."""

    run: Run
    spec: dict[str, Any]
    levels: list[dict[str, Any]]
    from_raw: bool
    matches_stored: bool | None
    environment: dict[str, Any]
    batching: dict[str, Any]
    model: dict[str, Any]
    roofline: dict[str, Any] | None
    definitions: list[dict[str, str]]
    percentile_method: str
    forcing: str
    upload: dict[str, Any] | None = None
    earlier: BenchmarkReport | None = None
    kind: str = BENCHMARK

    @classmethod
    def of(cls, run: Run) -> BenchmarkReport | None:
        stored = run.metrics or {}
        if not stored.get("levels") or not isinstance(stored.get("spec"), dict):
            return None
        raw = (run.raw or {}).get("benchmark")
        roofline = stored.get("roofline")
        if raw and raw.get("levels"):
            levels = recompute_levels(raw, stored["spec"].get("slo") or {}, roofline)
            matches: bool | None = _same(levels, stored["levels"])
        else:
            levels, matches = [dict(level) for level in stored["levels"]], None
            for level, rl in zip(levels, (roofline or {}).get("levels", []), strict=False):
                level["roofline"] = rl
        for level in levels:
            level["key"] = bench_validity.level_key(level)
        return cls(
            run=run,
            spec=stored["spec"],
            levels=levels,
            from_raw=bool(raw),
            matches_stored=matches,
            environment=stored.get("harness_environment") or {},
            batching=stored.get("batching") or {},
            model=stored.get("model") or {},
            roofline=roofline,
            definitions=stored.get("definitions") or bench_metrics.DEFINITIONS,
            percentile_method=stored.get("percentile_method") or bench_metrics.PERCENTILE_METHOD,
            forcing=(raw or {}).get("output_length_forcing", ""),
            upload=stored.get("upload"),
        )

    @property
    def on_gpu(self) -> bool:
        return self.environment.get("device_kind") == "cuda"

    @property
    def device(self) -> str:
        return str(self.environment.get("device") or "an unnamed device")

    @property
    def model_name(self) -> str:
        if self.spec.get("architecture"):
            return str(self.spec["architecture"])
        return f"inline {self.spec.get('config', {}).get('model_type', '?')} config"

    @property
    def workload(self) -> list[tuple[str, str]]:
        spec = self.spec
        return [
            ("Model", self.model_name),
            ("Parameters", f"{self.model['params']:,}" if self.model.get("params") else "—"),
            ("dtype", str(spec.get("dtype"))),
            ("Attention kernel", str(spec.get("attn_implementation", "—"))),
            ("Prompt tokens", describe_length(spec.get("prompt_tokens"))),
            ("Output tokens", describe_length(spec.get("output_tokens"))),
            ("Concurrency levels", ", ".join(str(c) for c in spec.get("concurrency", []))),
            ("Measured requests per level", str(spec.get("requests"))),
            ("Warm-up requests per level", str(spec.get("warmup_requests"))),
            ("Seed", str(spec.get("seed"))),
            ("SLOs for goodput", describe_slo(spec.get("slo"))),
            *self.load_rows,
        ]

    @property
    def load_rows(self) -> list[tuple[str, str]]:
        """The newer workload fields, only where the spec has them (old specs show as before)."""
        spec, rows = self.spec, []
        arrival = spec.get("arrival") or {}
        if arrival.get("kind", "closed") != "closed":
            text = f"{arrival['kind']}" + (f", burstiness {arrival['burstiness']:g}" if "burstiness" in arrival else "")
            if arrival.get("rate") is not None:
                text += f", {arrival['rate']:g} requests/s"
            text += (
                f", at most {arrival['max_concurrency']} in flight" if arrival.get("max_concurrency") else ", no cap"
            )
            rows.append(("Arrivals", text + f" (seed {arrival.get('seed')})"))
            if arrival.get("ramp_up_requests"):
                rows.append(("Ramp-up requests (not measured)", str(arrival["ramp_up_requests"])))
        if spec.get("sweep"):
            sweep = spec["sweep"]
            rows.append(
                (
                    "Rate sweep",
                    ", ".join(f"{r:g}" for r in sweep["rates"]) + " requests/s"
                    if "rates" in sweep
                    else f"{sweep['points']} rates between one at a time and saturation",
                )
            )
        if spec.get("sla"):
            sla = spec["sla"]
            limits = ", ".join(f"{k[:4].upper()} ≤ {sla[k]:g} ms" for k in ("ttft_ms", "tpot_ms") if k in sla)
            rows.append(("SLA", f"p{sla['percentile']} {limits}; {sla['search_steps']} search steps"))
        if spec.get("trials", 1) > 1:
            rows.append(("Trials per level", str(spec["trials"])))
        if spec.get("engine"):
            engine = spec["engine"]
            rows.append(
                ("Engine", f"{engine['cache']} cache" + (", compiled decode step" if engine["compile"] else ""))
            )
        return rows

    @property
    def weight_bytes(self) -> dict[str, int]:
        return self.model.get("weight_bytes") or {}

    @property
    def slo_text(self) -> str:
        return describe_slo(self.spec.get("slo"))

    @property
    def requests(self) -> int:
        return sum(level["completed"] + level["failed"] for level in self.levels)

    @property
    def memory_method(self) -> str:
        methods = {str((level.get("peak_memory") or {}).get("method", "")) for level in self.levels}
        return "; ".join(sorted(m for m in methods if m))

    @property
    def latency_columns(self) -> list[tuple[str, str]]:
        return [(key, label) for key, label in LATENCIES]

    def latency_rows(self) -> list[dict[str, Any]]:
        """Per level: its label and, per latency metric, the p50/p95/p99 cells.

        A cell holds the percentile (data-value, as before) and what the page shows: the value, or
        the maximum when fewer requests than the percentile's minimum were measured, its sample
        count and its bootstrap interval. Runs stored before intervals existed show the value only.
        """
        return [
            {
                "level": level,
                "cells": [_cell(level, key, p) for key, _ in LATENCIES for p in PERCENTILES],
            }
            for level in self.levels
        ]

    @property
    def has_intervals(self) -> bool:
        return any((level.get("ttft_ms") or {}).get("reported") for level in self.levels)

    @property
    def interval_method(self) -> str:
        return bench_stats.INTERVAL_METHOD

    @property
    def policy(self) -> str:
        return str(self.batching.get("description") or "")

    def sweep(self) -> dict[str, Any] | None:
        """The sweep and its SLA answer, recomputed from the levels shown (so from the raw timings)."""
        if not self.spec.get("sweep"):
            return None
        return bench_stats.sweep_summary(self.levels, self.spec.get("sla"))

    def trials(self) -> list[dict[str, Any]]:
        """Levels run more than once: per level, the spread of its figures between trials."""
        groups: dict[str, list[dict[str, Any]]] = {}
        for level in self.levels:
            if level.get("trial"):
                groups.setdefault(_base_key(level), []).append(level)
        return [
            {"label": key, "trials": len(levels), "rows": bench_stats.trial_spread(levels)}
            for key, levels in groups.items()
            if len(levels) > 1
        ]

    def sweep_charts(self) -> list[SafeString]:
        sweep = self.sweep()
        if not sweep or not sweep["points"]:
            return []
        sla = sweep["sla"] or {}
        p = f"p{sla.get('percentile', 99)}"
        points = bench_stats.sweep_points(self.levels, sweep["sla"])
        charts = []
        for key, label in (("ttft_ms", "TTFT"), ("tpot_ms", "TPOT")):
            series = []
            for stat, css in (("p50", "c-p50"), (p, "c-p99")):
                pts, band = [], []
                for point in points:
                    shown = ((point["level"].get(key) or {}).get("reported") or {}).get(stat)
                    if shown is None:
                        continue
                    pts.append((point["sustained_rps"], shown["value"]))
                    band.append(tuple(shown["ci"]) if shown.get("ci") else None)
                series.append(XYSeries(f"{label} {stat}", pts, css, band))
            limit = (sla[key], f"SLA {label} {p} ≤ {sla[key]:g} ms") if key in sla else None
            answer = sweep["max_rate_meeting_sla"]
            charts.append(
                XYChart(
                    f"{label} against throughput, 95 % intervals",
                    "milliseconds",
                    "requests per second sustained",
                    series,
                    hline=limit,
                    vline=(answer, f"highest rate meeting the SLA: {answer:.3g}/s") if answer else None,
                )
            )
        offered = [pt for pt in sweep["points"] if pt["rate"] is not None]
        good = [(pt["rate"], pt["goodput_rps"]) for pt in offered if pt["goodput_rps"] is not None]
        charts.append(
            XYChart(
                "Sustained and goodput vs offered rate",
                "requests per second",
                "offered requests per second",
                [
                    XYSeries("sustained", [(pt["rate"], pt["sustained_rps"]) for pt in offered], "c-tput"),
                    *([XYSeries("goodput (SLOs met)", good, "c-p95")] if good else []),
                    XYSeries("offered", [(pt["rate"], pt["rate"]) for pt in offered], "c-p50", markers=False),
                ],
            )
        )
        return [mark_safe(chart.svg()) for chart in charts]  # noqa: S308 - xy_chart escapes all text

    def distribution_charts(self) -> list[SafeString]:
        """TTFT and TPOT as empirical distributions (share of requests at or below), a line per level."""
        raw_levels = self._raw_levels()
        if not raw_levels:
            return []
        shown = list(zip(self.levels, raw_levels, strict=False))[:MAX_DISTRIBUTION_LEVELS]
        colours = ("c-p50", "c-p99", "c-tput", "c-p95")
        charts = []
        for key, label in (("ttft", "TTFT"), ("tpot", "TPOT")):
            series = []
            for (level, raw_level), css in zip(shown, colours, strict=False):
                records, _ = bench_metrics.requests_from_harness_level(raw_level)
                values = sorted(
                    v * 1000
                    for v in (
                        (r["ttft_s"] if key == "ttft" else bench_metrics.tpot_s(r)) for r in records if not r["error"]
                    )
                    if v is not None
                )
                if values:
                    n = len(values)
                    series.append(
                        XYSeries(
                            level["key"],
                            [(v, (i + 1) / n) for i, v in enumerate(values)],
                            css,
                            step=True,
                            markers=False,
                        )
                    )
            if series:
                charts.append(XYChart(f"{label} distribution", "share of requests at or below", "milliseconds", series))
        return [mark_safe(chart.svg()) for chart in charts]  # noqa: S308 - xy_chart escapes all text

    def timeline_charts(self) -> list[SafeString]:
        """Requests in flight (arrived, not finished) over each level's time, for up to four levels."""
        charts = []
        for level, raw_level in list(zip(self.levels, self._raw_levels(), strict=False))[:MAX_DISTRIBUTION_LEVELS]:
            events = []
            for r in raw_level["requests"]:
                if r.get("not_run") or r.get("start_ns") is None:
                    continue
                events += [(r["start_ns"], 1), (r["end_ns"], -1)]
            if not events:
                continue
            events.sort()
            t0, count, points = events[0][0], 0, []
            for t, d in events:
                count += d
                points.append(((t - t0) / 1e9, count))
            charts.append(
                XYChart(
                    f"Requests in flight, {level['key']}",
                    "requests",
                    "seconds into the level",
                    [XYSeries("arrived, not finished", points, "c-tput", step=True, markers=False)],
                )
            )
        return [mark_safe(chart.svg()) for chart in charts]  # noqa: S308 - xy_chart escapes all text

    def _raw_levels(self) -> list[dict[str, Any]]:
        raw = (self.run.raw or {}).get("benchmark") or {}
        return list(raw.get("levels") or [])

    def charts(self) -> list[SafeString]:
        runs = [(self, "", "this run")]
        if self.earlier is not None:
            runs.append((self.earlier, "dashed", f"run #{self.earlier.run.pk}"))
        categories = list(dict.fromkeys(level["key"] for report, *_ in runs for level in _ordered(report.levels)))
        labels = categories
        charts = []
        for key, label in CHARTED:
            series = []
            for report, dash, name in runs:
                by_c = {level["key"]: level for level in report.levels}
                for p in PERCENTILES:
                    values = [_stat(by_c.get(c), key, p) for c in categories]
                    series.append(Series(f"{p} · {name}", values, f"c-{p}", dash))
            charts.append(
                Chart(f"{label} percentiles (ms)", "milliseconds", "concurrency (requests per batch)", labels, series)
            )
        tput = []
        for report, dash, name in runs:
            by_c = {level["key"]: level for level in report.levels}
            values = [by_c[c]["output_tokens_per_s"] if c in by_c else None for c in categories]
            tput.append(Series(f"output tok/s · {name}", values, "c-tput", dash))
        charts.append(
            Chart("Output throughput (tokens/s)", "tokens per second", "concurrency (requests per batch)", labels, tput)
        )
        return [mark_safe(chart.svg()) for chart in charts]  # noqa: S308 - line_chart escapes all text

    def comparison(self) -> list[dict[str, Any]]:
        """Per concurrency level present in either run: this run, the earlier one and the change."""
        if self.earlier is None:
            return []
        mine = {level["key"]: level for level in self.levels}
        theirs = {level["key"]: level for level in self.earlier.levels}
        groups = []
        for c in dict.fromkeys([*mine, *theirs]):
            rows = []
            for label, unit, lower_is_better, read, interval in COMPARED:
                a = read(mine[c]) if c in mine else None
                b = read(theirs[c]) if c in theirs else None
                spread = (interval(mine[c]), interval(theirs[c])) if c in mine and c in theirs else (None, None)
                rows.append(
                    {
                        "label": label + _max_note(mine.get(c), label),
                        "unit": unit,
                        "this": a,
                        "earlier": b,
                        **_delta(a, b, lower_is_better, *spread),
                    }
                )
            groups.append(
                {
                    "concurrency": c,
                    "rows": rows,
                    "only": None if c in mine and c in theirs else ("this" if c in mine else "earlier"),
                }
            )
        return groups


def recompute_levels(
    raw: dict[str, Any], slo: dict[str, float], roofline: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Every level's metrics and roofline from the raw timings, with the runner's own code."""
    levels = bench_metrics.metrics_from_harness_raw(raw, slo)["levels"]
    stored_levels = (roofline or {}).get("levels", [])
    for i, (level, raw_level) in enumerate(zip(levels, raw["levels"], strict=True)):
        level["peak_memory"] = raw_level.get("peak_memory")
        stored = stored_levels[i] if i < len(stored_levels) else None
        if stored and (raw_level.get("batches") or raw_level.get("steps")):
            again = bench_roofline.level_roofline(
                raw_level,
                stored["weight_bytes_read_per_step"],
                stored["kv_bytes_per_token"],
                stored["bandwidth_gb_per_s"],
            )
            again.pop("batches")
            level["roofline"] = again
    return levels


def _same(recomputed: list[dict[str, Any]], stored: list[dict[str, Any]]) -> bool:
    """Whether the stored metrics equal the recomputation, on the fields the stored ones have.

    Runs stored before a field existed (the intervals, a level's rate) lack it, and are compared on
    what they stored; the recomputation's extra fields are shown but not held against them.
    """

    def strip(levels: list[dict[str, Any]]) -> list[Any]:
        return json.loads(
            json.dumps(
                [{k: v for k, v in level.items() if k not in ("peak_memory", "roofline", "key")} for level in levels]
            )
        )

    return len(recomputed) == len(stored) and all(
        _subset(mine, theirs) for mine, theirs in zip(strip(recomputed), strip(stored), strict=True)
    )


def _subset(recomputed: Any, stored: Any) -> bool:
    if isinstance(stored, dict):
        return isinstance(recomputed, dict) and all(
            k in recomputed and _subset(recomputed[k], v) for k, v in stored.items()
        )
    return bool(recomputed == stored)


def _ordered(levels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Levels in the order of the charts' x axis: by concurrency for closed loops, then by rate."""
    return sorted(
        levels,
        key=lambda lv: (lv.get("rate") is not None, lv.get("rate") or 0, lv["concurrency"], lv.get("trial") or 0),
    )


def _base_key(level: dict[str, Any]) -> str:
    return bench_validity.level_key({k: v for k, v in level.items() if k != "trial"})


def _cell(level: dict[str, Any], key: str, stat: str) -> dict[str, Any]:
    shown = ((level.get(key) or {}).get("reported") or {}).get(stat)
    return {
        "metric": key,
        "stat": stat,
        "value": _stat(level, key, stat),
        "shown": shown["value"] if shown else _stat(level, key, stat),
        "n": shown["n"] if shown else None,
        "is_max": bool(shown and shown["is_max"]),
        "min_n": shown["min_n"] if shown else None,
        "ci": shown["ci"] if shown else None,
    }


def _max_note(level: dict[str, Any] | None, label: str) -> str:
    """ " (max of 24)" after a percentile row whose level measured too few requests for it."""
    names = {"TTFT": "ttft_ms", "TPOT": "tpot_ms", "E2E": "e2e_ms"}
    name, _, stat = label.partition(" ")
    if level is None or name not in names or stat not in PERCENTILES:
        return ""
    cell = _cell(level, names[name], stat)
    return f" (max of {cell['n']})" if cell["is_max"] else ""


def _interval(key: str, stat: str) -> Any:
    return lambda level: (((level.get(key) or {}).get("reported") or {}).get(stat) or {}).get("ci")


def _stat(level: dict[str, Any] | None, key: str, stat: str) -> float | None:
    if level is None:
        return None
    return (level.get(key) or {}).get(stat)


def _delta(
    a: float | None,
    b: float | None,
    lower_is_better: bool,
    a_interval: list[float] | None = None,
    b_interval: list[float] | None = None,
) -> dict[str, Any]:
    """The change from b to a and its verdict. Where both runs have a bootstrap interval for the
    figure, a change is only called better or worse when the intervals do not overlap; otherwise it
    is "within noise". Figures without intervals keep the old rule (under 0.5 % is the same)."""
    if a is None or b is None:
        return {"change": None, "verdict": ""}
    if b == 0:
        return {"change": None, "verdict": "" if a == 0 else ("worse" if lower_is_better else "better")}
    change = (a - b) / abs(b)
    if bench_stats.intervals_overlap(a_interval, b_interval):
        verdict = "noise"
    elif abs(change) < 0.005:
        verdict = "same"
    else:
        verdict = "better" if (change < 0) == lower_is_better else "worse"
    return {"change": change, "verdict": verdict}


def _none(level: dict[str, Any]) -> None:
    return None


COMPARED: tuple[tuple[str, str, bool, Any, Any], ...] = (
    *(
        (f"{label} {p}", "ms", True, lambda level, k=key, p=p: _cell(level, k, p)["shown"], _interval(key, p))
        for key, label in (("ttft_ms", "TTFT"), ("tpot_ms", "TPOT"), ("e2e_ms", "E2E"))
        for p in PERCENTILES
    ),
    ("ITL p50", "ms", True, lambda level: _stat(level, "itl_ms", "p50"), _none),
    ("Output tokens/s", "tok/s", False, lambda level: level.get("output_tokens_per_s"), _none),
    ("Requests/s", "req/s", False, lambda level: level.get("requests_per_s"), _none),
    ("Goodput", "req/s", False, lambda level: level.get("goodput_rps"), _none),
    ("Peak memory", "bytes", True, lambda level: (level.get("peak_memory") or {}).get("bytes"), _none),
)


# --- KV calculator runs ----------------------------------------------------------------------


class _PublicHidden:
    public: list[dict[str, Any]]
    hidden: list[dict[str, Any]]

    @property
    def public_passed(self) -> int:
        return sum(t["status"] == "passed" for t in self.public)

    @property
    def hidden_passed(self) -> int:
        return sum(t["status"] == "passed" for t in self.hidden)


@dataclass
class KVReport(_PublicHidden):
    run: Run
    public: list[dict[str, Any]]
    hidden: list[dict[str, Any]]
    facts: list[tuple[str, str]]
    kind: str = KV

    @classmethod
    def of(cls, run: Run) -> KVReport | None:
        tests = run.visible_tests()
        # Only results in the grader's shape (each public case names its function and inputs);
        # anything else, a stand-in grader's say, is listed as it is.
        shaped = any((t.get("details") or {}).get("function") for t in tests) or "cases" in (run.metrics or {})
        if not tests or not shaped:
            return None
        public, hidden = [], []
        for test in tests:
            details = test.get("details") or {}
            # The same row as CaseReport's (name, status, category, hint), plus the figures of a
            # KV case; runs graded before categories (grader 1) have none and show without.
            row = {**test, **_case_row(test), "error": _error_text(test.get("rel_error"))}
            if test.get("visibility") == "hidden":
                hidden.append(row)
            else:
                public.append({**row, **_kv_inputs(details), "why": details.get("why", "")})
        return cls(run=run, public=public, hidden=hidden, facts=_kv_facts(run.metrics or {}))

    @property
    def passed(self) -> int:
        return sum(t["status"] == "passed" for t in [*self.public, *self.hidden])

    @property
    def semantics_url(self) -> str:
        spec = self.run.version.artifact.spec
        return f"{spec.get_absolute_url()}#semantics" if spec is not None else ""


def _error_text(rel_error: Any) -> str:
    """A relative error as the grader words it: a plain percentage, never exponent notation."""
    if not isinstance(rel_error, int | float) or isinstance(rel_error, bool):
        return ""
    return kv_grade.percent_text(float(rel_error))


def _kv_inputs(details: dict[str, Any]) -> dict[str, Any]:
    model = details.get("model")
    try:
        title = kv_catalog.entry(model)["title"] if model else ""
    except KeyError:
        title = ""
    return {"model": model, "model_title": title, "function": details.get("function"), "inputs": details}


def _kv_facts(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    facts: list[tuple[str, str]] = []
    if "cases" in metrics:
        facts.append(
            (
                "Cases graded",
                f"{metrics['cases']} ({metrics.get('passed', 0)} passed, {metrics.get('errors', 0)} errors)",
            )
        )
    if metrics.get("tolerance") is not None:
        facts.append(("Tolerance", f"{metrics['tolerance']:.0%} relative error"))
    functions = metrics.get("functions") or {}
    if functions:
        facts.append(
            ("Functions found", ", ".join(f"{name} ({'yes' if ok else 'no'})" for name, ok in functions.items()))
        )
    if metrics.get("skipped"):
        facts.append(("Not graded", f"{len(metrics['skipped'])} max_concurrency cases (the function is not defined)"))
    if metrics.get("module"):
        facts.append(("Module imported", str(metrics["module"])))
    if "measured" in metrics:
        facts.append(
            (
                "Truth",
                f"{metrics['measured']} measurements made for this run, {metrics.get('public_from_table', 0)} "
                "public ones taken from the committed table measured with the same versions",
            )
        )
    if metrics.get("measurement_device"):
        facts.append(("Measured on", ", ".join(metrics["measurement_device"])))
    versions = metrics.get("versions") or {}
    if versions:
        facts.append(("Versions", ", ".join(f"{k} {v}" for k, v in versions.items())))
    if metrics.get("measure_wall_s") is not None:
        facts.append(("Measurement time", f"{metrics['measure_wall_s']:.1f} s"))
    return facts


# --- self-reported results -------------------------------------------------------------------

WORKLOAD_LABELS = {
    "model": "Model",
    "dtype": "dtype",
    "hardware": "Hardware",
    "engine": "Engine",
    "engine_version": "Engine version",
    "prompt_tokens": "Prompt tokens",
    "output_tokens": "Output tokens",
    "concurrency": "Concurrency",
    "num_requests": "Measured requests",
    "request_rate": "Request rate",
    "ignore_eos": "ignore_eos",
    "seed": "Seed",
    "notes": "Notes",
    "slo": "SLOs for goodput",
}


@dataclass
class UploadEntry:
    label: str
    workload: list[tuple[str, str, str]]  # (label, value, what the field means)
    concurrency: int | None
    outcome: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def recomputed(self) -> dict[str, Any] | None:
        return self.outcome.get("recomputed")

    @property
    def mismatches(self) -> int:
        return sum(row["status"] == "mismatch" for row in self.rows) + len(self.checks)


@dataclass
class UploadReport:
    entries: list[UploadEntry]

    @property
    def mismatches(self) -> int:
        return sum(entry.mismatches for entry in self.entries)

    @property
    def has_raw(self) -> bool:
        return any(entry.recomputed for entry in self.entries)

    def charts(self) -> list[SafeString]:
        """Points, not lines: each entry (an engine, a variant) is its own category."""
        charted = [e for e in self.entries if e.recomputed][:MAX_CHART_RUNS]
        if not charted:
            return []
        labels = [f"{e.label} (c={e.concurrency})" if e.label else f"concurrency {e.concurrency}" for e in charted]
        charts = []
        for key, label in CHARTED:
            series = [Series(p, [_stat(e.recomputed, key, p) for e in charted], f"c-{p}") for p in PERCENTILES]
            charts.append(
                Chart(
                    f"{label} percentiles (ms), recomputed",
                    "milliseconds",
                    "uploaded measurement",
                    labels,
                    series,
                    connect=False,
                )
            )
        tput = [Series("output tok/s", [e.recomputed.get("output_tokens_per_s") for e in charted], "c-tput")]  # type: ignore[union-attr]
        charts.append(
            Chart(
                "Output throughput (tokens/s), recomputed",
                "tokens per second",
                "uploaded measurement",
                labels,
                tput,
                connect=False,
            )
        )
        return [mark_safe(chart.svg()) for chart in charts]  # noqa: S308 - line_chart escapes all text


def upload_report(upload: ResultUpload) -> UploadReport | None:
    """The 07/08/10 benchmark documents: one entry per recomputed benchmark result."""
    recomputation = upload.recomputation or {}
    document = upload.document if isinstance(upload.document, dict) else {}
    if recomputation.get("comparisons") is not None:
        pairs = [("", document.get("workload") or {}, recomputation)]
    elif recomputation.get("entries"):
        shared = document.get("workload") or {}
        items = document.get("entries") or []
        pairs = [
            (
                str(outcome.get("label") or f"entry {i + 1}"),
                {**shared, **((items[i] if i < len(items) else {}).get("workload") or {})},
                outcome,
            )
            for i, outcome in enumerate(recomputation["entries"])
        ]
    else:
        return None
    entries = []
    for label, workload, outcome in pairs:
        entries.append(
            UploadEntry(
                label=label,
                workload=_workload_rows(workload),
                concurrency=workload.get("concurrency"),
                outcome=outcome,
                rows=[_claim_row(row) for row in outcome.get("comparisons") or []],
                checks=[
                    f
                    for f in outcome.get("flagged") or []
                    if str(f.get("metric", "")).startswith(("raw.", "workload."))
                ],
            )
        )
    return UploadReport(entries)


def _workload_rows(workload: dict[str, Any]) -> list[tuple[str, str, str]]:
    meanings = dict(bench_results.RESULTS_WORKLOAD_FIELDS)
    rows = []
    for key, label in WORKLOAD_LABELS.items():
        if key not in workload:
            continue
        value = workload[key]
        if key in ("prompt_tokens", "output_tokens"):
            text = describe_length(value)
        elif key == "slo":
            text = describe_slo(value)
        elif key == "request_rate":
            text = "all at once (inf)" if value == "inf" else f"{value:g} requests/s"
        else:
            text = f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
        rows.append((label, text, meanings.get(key, "")))
    return rows


CLAIM_UNITS = {"ms": "ms", "per_s": "/s", "s": "s", "count": ""}


def _claim_row(row: dict[str, Any]) -> dict[str, Any]:
    """A comparison row with its unit and, for a flagged claim, why it was flagged."""
    unit = row.get("unit", "")
    rel = row.get("rel_diff")
    if row["status"] == "mismatch":
        if unit == "count":
            why = "Counts must match exactly."
        else:
            floor = f"{bench_metrics.ABS_TOL[unit]:g} {CLAIM_UNITS[unit]}".replace(" /", "/")
            why = (
                f"Off by {rel:.1%}: more than the {bench_metrics.DEFAULT_REL_TOL:.0%} tolerance and the {floor} floor."
            )
    elif row["status"] == "unverifiable":
        why = row.get("reason") or "cannot be recomputed from the uploaded data"
    else:
        why = "within tolerance" if rel else "identical"
    shown = {k: _count(row[k]) if unit == "count" else row[k] for k in ("claimed", "recomputed")}
    rel_text = None if rel is None or not math.isfinite(rel) else f"{rel:.2%}"
    return {**row, **shown, "unit_text": CLAIM_UNITS.get(unit, unit), "why": why, "rel_text": rel_text}


def _count(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _case_row(test: dict[str, Any]) -> dict[str, Any]:
    """What every graded case shows: its name, verdict, category and (when it failed) hint."""
    details = test.get("details") or {}
    return {
        "name": test["name"],
        "status": test["status"],
        "category": details.get("category", ""),
        # A hint helps where a case failed; on a passing one it is noise (the quantizer gives every
        # case its category's hint).
        "hint": details.get("hint", "") if test["status"] != "passed" else "",
    }


@dataclass
class CaseReport(_PublicHidden):
    """A run of a grader whose tests each carry a category and, when they fail, a hint
    (tiny_transformer, quantizer): public cases with their message and what they expect, hidden
    ones with their category, verdict and hint only; and, for a grader that checks claims
    (quantizer, metrics["claims"]), each measured figure beside the learner's claim."""

    run: Run
    public: list[dict[str, Any]]
    hidden: list[dict[str, Any]]
    kind: str = TINY_TRANSFORMER
    claims: list[dict[str, Any]] = field(default_factory=list)

    @property
    def shows_expects(self) -> bool:
        """Whether any public case says what it expects (the quantizer's say it in their message)."""
        return any(row.get("expects") for row in self.public)

    @classmethod
    def of(cls, run: Run) -> CaseReport | None:
        tests = run.visible_tests()
        if not tests or not all((t.get("details") or {}).get("category") for t in tests):
            return None
        public, hidden = [], []
        for test in tests:
            details = test.get("details") or {}
            row = _case_row(test)
            if test.get("visibility") == "hidden":
                hidden.append(row)
            else:
                public.append({**row, "message": test.get("message", ""), "expects": details.get("expects", "")})
        return cls(run=run, public=public, hidden=hidden, kind=run.grader, claims=claim_rows(run))


def claim_rows(run: Run) -> list[dict[str, Any]]:
    """metrics["claims"] (quant/grade._claims_table: one row per public setting and field) as the
    run page shows them: only well-formed rows, with whether the claim is off, and by how much."""
    metrics = run.metrics if isinstance(run.metrics, dict) else {}
    rows = []
    for row in metrics.get("claims") or []:
        if not isinstance(row, dict) or not isinstance(row.get("field"), str):
            continue
        measured, claimed = row.get("measured"), row.get("claimed")
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (measured, claimed))
        difference = claimed - measured if numbers else None
        rows.append(
            {
                "setting": str(row.get("setting", "")),
                "field": row["field"],
                "measured": measured,
                "claimed": claimed,
                "difference": difference,
                "matches": row.get("matches") if isinstance(row.get("matches"), bool) else None,
            }
        )
    return rows


# --- headline figures ----------------------------------------------------------------------------


def headline(run: Run) -> list[tuple[str, str]]:
    """The few measured figures that speak for a run where its page does not fit (a credential's
    evidence): cases passed for the KV calculator, throughput and latency at the best level for a
    benchmark, tests passed for anything else."""
    metrics = run.metrics if isinstance(run.metrics, dict) else {}
    levels = [level for level in metrics.get("levels") or [] if isinstance(level, dict)]
    if run.grader == KV and "cases" in metrics:
        figures = [("Cases passed", f"{metrics.get('passed', 0)} of {metrics['cases']}")]
        if metrics.get("measured") is not None:
            figures.append(("Cases measured on a real model", str(metrics["measured"])))
        if metrics.get("tolerance") is not None:
            figures.append(("Tolerance", f"{metrics['tolerance']:.0%} relative error"))
        return figures
    if run.grader == BENCHMARK and levels:
        best = max(levels, key=lambda level: level.get("output_tokens_per_s") or 0)
        figures = [
            (
                "Output throughput",
                f"{best.get('output_tokens_per_s') or 0:.1f} tokens/s at concurrency {best.get('concurrency')}",
            )
        ]
        for key, label in (("ttft_ms", "TTFT"), ("tpot_ms", "TPOT")):
            value = (best.get(key) or {}).get("p50")
            if value is not None:
                figures.append((f"{label} p50", f"{value:.1f} ms"))
        peak = (best.get("peak_memory") or {}).get("bytes")
        if peak:
            figures.append(("Peak memory", gib(peak)))
        return figures
    tests = run.visible_tests()
    if tests:
        passed = sum(1 for t in tests if t.get("status") == "passed")
        return [("Tests passed", f"{passed} of {len(tests)}")]
    return []
