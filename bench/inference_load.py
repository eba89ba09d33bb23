"""Open-loop load on the reference engine: continuous vs static batching at one Poisson rate, and a
rate sweep with the highest rate that meets an SLA. Runs under the runner env:

    .venv-runner/bin/python bench/inference_load.py [--architecture small-llama] [--rate 2]
        [--requests 100] [--sweep-requests 24] [--threads 1] [--json out.json]

Both parts go through ``harness.run_benchmark``, the code a learner's workload spec runs, so
what is printed is what a results page would show (without the roofline). Part 1 runs the same
requests at the same Poisson arrival times twice, once per batching mode, and prints throughput
and TTFT/TPOT p50 and p99 with their 95 % bootstrap intervals and sample counts (latency counts
from each request's scheduled arrival). Part 2 sweeps the rates given with continuous batching
and reports each rate's verdict and the highest rate meeting the SLA (bisection steps included).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def spec_for(args: argparse.Namespace, **change: Any) -> dict[str, Any]:
    return {
        "architecture": args.architecture,
        "dtype": "float32",
        "prompt_tokens": {"kind": "uniform", "min": 16, "max": 48},
        "output_tokens": {"kind": "uniform", "min": 8, "max": 16},
        "requests": args.requests,
        "warmup_requests": 2,
        "seed": 0,
        **change,
    }


def interval(stat: dict[str, Any]) -> str:
    if stat["is_max"]:
        return f"{stat['value']:8.1f} (max of {stat['n']})"
    lo, hi = stat["ci"] or (stat["value"], stat["value"])
    return f"{stat['value']:8.1f} [{lo:.1f}, {hi:.1f}] n={stat['n']}"


def run(spec: dict[str, Any], threads: int) -> dict[str, Any]:
    from portfolio.runner.bench import harness

    started = time.perf_counter()
    out = harness.run_benchmark(spec, device="cpu", roofline=False, threads=threads)
    if out["status"] != "ok":
        raise SystemExit(f"{out['status']}: {out.get('message')} {out.get('errors', '')}")
    bad = {k: v for k, v in out["checks"].items() if v}
    if bad:
        raise SystemExit(f"validity checks failed: {bad}")
    out["wall_s"] = time.perf_counter() - started
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--architecture", default="small-llama")
    parser.add_argument("--rate", type=float, default=2.0, help="Poisson rate of part 1 (requests/s)")
    parser.add_argument("--cap", type=int, default=8, help="requests in flight at most")
    parser.add_argument("--requests", type=int, default=100, help="measured requests of part 1 (p99 needs 100)")
    parser.add_argument("--sweep-requests", type=int, default=24)
    parser.add_argument("--sweep-rates", default="1,2,4")
    parser.add_argument("--ttft-ms", type=float, default=1500.0)
    parser.add_argument("--tpot-ms", type=float, default=400.0)
    parser.add_argument("--sla-percentile", type=int, default=90)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    arrival = {"kind": "poisson", "rate": args.rate, "max_concurrency": args.cap, "seed": 1}
    side = {
        mode: run(spec_for(args, arrival=arrival, batching=mode), args.threads) for mode in ("continuous", "static")
    }
    env = side["continuous"]["environment"]
    print(f"machine: {env['device']}; torch {env['torch']}, transformers {env['transformers']}, python {env['python']}")
    print(
        f"workload: {args.architecture} float32, prompts 16-48, outputs 8-16 tokens, {args.requests} requests, "
        f"Poisson {args.rate:g}/s (seed 1), at most {args.cap} in flight\n"
    )
    print(f"{'batching':<11} {'req/s':>6} {'tok/s':>7}  {'TTFT p50 ms':<32} {'TTFT p99 ms':<32} {'TPOT p50 ms':<30}")
    summary: dict[str, Any] = {"machine": env, "part1": {}, "part2": None}
    for mode, out in side.items():
        level = out["metrics"]["levels"][0]
        ttft, tpot = level["ttft_ms"]["reported"], level["tpot_ms"]["reported"]
        print(
            f"{mode:<11} {level['requests_per_s']:6.2f} {level['output_tokens_per_s']:7.1f}  "
            f"{interval(ttft['p50']):<32} {interval(ttft['p99']):<32} {interval(tpot['p50']):<30}"
        )
        summary["part1"][mode] = {
            "requests_per_s": level["requests_per_s"],
            "output_tokens_per_s": level["output_tokens_per_s"],
            "ttft_ms": ttft,
            "tpot_ms": tpot,
            "wall_s": out["wall_s"],
        }

    rates = [float(r) for r in args.sweep_rates.split(",")]
    sla = {"ttft_ms": args.ttft_ms, "tpot_ms": args.tpot_ms, "percentile": args.sla_percentile, "search_steps": 2}
    sweep_spec = spec_for(
        args,
        requests=args.sweep_requests,
        arrival={"kind": "poisson", "max_concurrency": args.cap, "seed": 1},
        batching="continuous",
        sweep={"rates": rates},
        sla=sla,
    )
    out = run(sweep_spec, args.threads)
    sweep = out["sweep"]
    print(
        f"\nsweep: continuous batching, {args.sweep_requests} requests per rate, SLA p{args.sla_percentile} "
        f"TTFT <= {args.ttft_ms:g} ms and TPOT <= {args.tpot_ms:g} ms"
    )
    print(f"{'role':<8} {'offered':>8} {'sustained':>10} {'verdict':<8} reasons")
    for point in sweep["points"]:
        print(
            f"{point['role']:<8} {point['rate']:8.3g} {point['sustained_rps']:10.2f} "
            f"{'meets' if point['meets'] else 'fails':<8} {'; '.join(point['reasons'])}"
        )
    answer = sweep["max_rate_meeting_sla"]
    print(f"highest rate meeting the SLA: {answer:.3g} requests/s" if answer else "no rate met the SLA")
    print(f"(rule: {sweep['rule']})")
    summary["part2"] = {"sla": sla, "points": sweep["points"], "max_rate_meeting_sla": answer, "wall_s": out["wall_s"]}
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
