"""The reference server serving a real model: the same HTTP side and server-side record as
server.py, with the open-loop reference engine's batch (bench/engine.py) generating the tokens
instead of the seeded latency model. For a GPU runner, so a learner's client measures real
inference; the record is still written by the server the moment each event leaves.

Runner env only (torch, transformers). Iteration-level scheduling as the engine's continuous
mode: between steps, waiting requests join while fewer than `max_batch` are in flight; a step
prefills the newcomers together (running requests wait that step) or decodes one token for every
running request. Each step runs in a worker thread and ends with a device synchronisation, so a
token is on the host before its event is written.

    RUNNER_PYTHON -m portfolio.runner.benchclient.model_server --device cuda --architecture qwen2.5-0.5b

runs the grader's reference client against it on the public cases' workloads and prints, as
JSON, each case's figures and whatever the comparison found (nothing, when all is well).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from portfolio.runner.benchclient import server as reference  # noqa: E402


class ModelServer(reference.ReferenceServer):
    """A ReferenceServer whose engine is a model (the engine's batch on `device`)."""

    def __init__(self, model: Any, device: str, settings: dict[str, Any] | None = None) -> None:
        super().__init__(settings)
        self.model = model
        self.device = device
        self.step_ms: list[float] = []

    def _run_step(self, batch: Any, admit: list[Any]) -> Any:
        import torch

        from portfolio.runner.bench import engine

        with torch.inference_mode():
            if admit:
                vocab = self.model.config.vocab_size
                prompts = [engine.prompt_ids(r.prompt_tokens, vocab, int(self.settings["seed"]) + r.seq) for r in admit]
                new = batch.prefill(self.model, admit, prompts)
                batch.merge(new)
            else:
                batch.decode(self.model)
            if self.device.startswith("cuda"):
                torch.cuda.synchronize()
        return batch

    async def _engine(self) -> None:
        from portfolio.runner.bench import engine

        loop = asyncio.get_running_loop()
        assert self._wake is not None
        batch = engine._Batch(self.device)  # noqa: SLF001 - the reference engine's own batch
        cap = int(self.settings["max_batch"])
        chunk = max(1, int(self.settings["chunk_tokens"]))
        while True:
            if not self.waiting and not batch.rows:
                self._wake.clear()
                await self._wake.wait()
            admit = []
            while self.waiting and len(batch.rows) + len(admit) < cap:
                admit.append(self.waiting.pop(0))
            started = time.perf_counter()
            batch = await loop.run_in_executor(None, self._run_step, batch, admit)
            self.step_ms.append((time.perf_counter() - started) * 1000)
            self.steps += 1
            stepped = admit if admit else list(batch.rows)
            for r in stepped:
                r.generated += 1
                r.pending += 1
                done = r.generated >= r.max_tokens
                if done or r.pending >= chunk:
                    r.events.put_nowait(r.pending)
                    r.pending = 0
            batch.keep([i for i, r in enumerate(batch.rows) if r.generated < r.max_tokens and r.status == "running"])


def check(architecture: str, device: str, dtype: str, case_names: list[str] | None = None) -> dict[str, Any]:
    """The reference client against a model server on each public case's workload, compared."""
    import torch

    from portfolio.runner.bench import harness, workload
    from portfolio.runner.benchclient import cases, grade, reference_client

    spec, errors = workload.validate(
        {
            "architecture": architecture,
            "dtype": dtype,
            "prompt_tokens": 8,
            "output_tokens": 8,
            "concurrency": [1],
            "requests": 1,
        }
    )
    if spec is None:
        raise SystemExit(f"bad model: {errors}")
    model = harness.build_model(spec, device)
    chosen = [c for c in cases.public_cases() if case_names is None or c["name"] in case_names]
    out: dict[str, Any] = {"architecture": architecture, "device": device, "dtype": dtype, "cases": {}}
    if device.startswith("cuda"):
        out["gpu"] = torch.cuda.get_device_name()
    for item in chosen:
        load = cases.workload(item)
        srv = ModelServer(model, device, {"max_batch": item["server"].get("max_batch", 8), **{"max_requests": 500}})
        srv.start()
        try:
            rtt = reference.loopback_rtt_s(srv.port)
            result = reference_client.run(srv.url, load)
        finally:
            srv.stop()
        problems, info = grade.check_case(load, srv.record(), rtt, result)
        out["cases"][item["name"]] = {
            "problems": problems.items,
            "allowance_ms": info["allowance_ms"],
            "true_summary": info.get("true_summary"),
            "median_step_ms": sorted(srv.step_ms)[len(srv.step_ms) // 2] if srv.step_ms else None,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--architecture", default="tiny-llama")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--cases", nargs="*")
    args = parser.parse_args(argv)
    print(json.dumps(check(args.architecture, args.device, args.dtype, args.cases), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
