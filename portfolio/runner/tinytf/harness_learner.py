"""Harness script (runs learner code): ``RUNNER_PYTHON -I harness_learner.py input.json output.json``.

Imports the learner's tiny_transformer.py and runs every case's probe on it: builds the model
from the case's config, loads the grader's random weights into it through the published
parameter layout, and records what the model and the sampler return. It never sees an expected
value: the comparisons happen in the trusted step (harness_check.py), which regenerates the same
weights and inputs with `make_weights` / `make_tokens` below and reads the tensors recorded here.

Standard library, torch and harness/common.py only: the sandbox binds this file and common.py
alone, next to the submission.

Input (JSON object):
    submission       folder holding the submission (default "submission")
    cases            [{"name", "check", ...the check's inputs...}] (see cases.learner_input)
    call_timeout_s   limit for one case (default 10); the learning case has its own budget_s
    import_timeout_s limit for importing the module (default 30)
    device           "cpu" (default) or "cuda"
    threads          torch intra-op threads (optional)

Output (JSON object):
    status   "ok", or "no_module" ("message" says what was looked for)
    module   the file imported, relative to the submission folder
    import   {"ok": bool, "message": str, "elapsed_s": float}
    results  {case name: {"status": "ok" | "error" | "timeout" | "no_import" | "missing" | "layout",
                          "message": str, "elapsed_s": float, ...the probe's scalars}}
    tensors  the file (next to output.json) with the probes' tensors, keyed "<case>/<what>"; the
             learning case's are the trained weights, "<case>/weights/<parameter name>"

Nothing this step reports is trusted: the learner's code runs in this process and can change
any of it. The check step judges tensors only, and the learning case by the held-out loss it
computes itself from the trained weights.

A case that raises or runs past its limit fails alone; a crash of the whole process ends the step
(the grader reports it as the submission's crash).
"""

from __future__ import annotations

import json
import math
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__:  # imported by the grader or the trusted step
    from portfolio.runner.harness import common
else:  # run as the step's script: common.py is beside it (see harness/common.py)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "harness"))
    import common

    del sys.path[0], sys.modules["common"]  # a learner's own common.py stays importable

MODULE_NAME = "tiny_transformer"
FUNCTIONS = ("build", "sample")
TENSORS_NAME = "tensors.safetensors"
DEFAULT_CALL_TIMEOUT_S = 10.0
DEFAULT_IMPORT_TIMEOUT_S = 30.0
MESSAGE_CHARS = common.MESSAGE_CHARS


# ----------------------------------------------------------------------------------------------
# What both steps generate from a case's seed (harness_check.py imports these)


def make_weights(layout: list[list[Any]], seed: int) -> dict[str, Any]:
    """The grader's random weights for a parameter layout [[name, shape], ...]: matrices drawn
    with std 1/sqrt(fan_in), so activations stay of order one and a missing scale shows; norm
    weights around 1, biases around 0."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    weights = {}
    for name, shape in layout:
        noise = torch.randn(*shape, generator=generator, dtype=torch.float64)
        if name.endswith("norm.weight"):
            value = 1.0 + 0.1 * noise
        elif name.endswith(".bias"):
            value = 0.1 * noise
        elif name.endswith("_emb.weight"):
            value = noise
        else:
            value = noise / math.sqrt(shape[-1])
        weights[name] = value.to(torch.float32)
    return weights


def make_tokens(vocab_size: int, batch: int, seq_len: int, seed: int) -> Any:
    import torch

    generator = torch.Generator().manual_seed(seed + 1)
    return torch.randint(0, vocab_size, (batch, seq_len), generator=generator)


def changed_after(tokens: Any, t: int, vocab_size: int, seed: int) -> Any:
    """The same tokens, with every token after position t replaced by a different one."""
    import torch

    generator = torch.Generator().manual_seed(seed + 2)
    other = tokens.clone()
    shift = torch.randint(1, vocab_size, other[:, t + 1 :].shape, generator=generator)
    other[:, t + 1 :] = (other[:, t + 1 :] + shift) % vocab_size
    return other


def copy_task_batch(vocab_size: int, batch: int, length: int, generator: Any) -> tuple[Any, Any]:
    """The learning task: [a_1..a_n, SEP, a_1..a_n] with SEP = 0; (inputs, targets), where the
    targets are -100 (ignored) except where the next token is a copied one."""
    import torch

    body = torch.randint(1, vocab_size, (batch, length), generator=generator)
    sep = torch.zeros(batch, 1, dtype=torch.long)
    sequence = torch.cat([body, sep, body], dim=1)
    inputs, targets = sequence[:, :-1], sequence[:, 1:].clone()
    targets[:, :length] = -100
    return inputs, targets


# ----------------------------------------------------------------------------------------------
# The probes: each runs learner code for one case and returns (scalars, tensors)


class CallTimeout(BaseException):
    """Raised by the alarm: a BaseException, so a learner's `except Exception` does not eat it."""


def _forward(model: Any, ids: Any, cache: Any = None) -> tuple[Any, Any]:
    out = model(ids, cache=cache)
    if not isinstance(out, tuple) or len(out) != 2:
        raise TypeError(f"model(input_ids, cache=...) must return (logits, cache), got {type(out).__name__}")
    return out


def _tensor_bytes(value: Any, seen: set[int]) -> tuple[int, int]:
    """Bytes and count of the distinct tensors in a nested cache structure."""
    import torch

    if isinstance(value, torch.Tensor):
        if id(value) in seen:
            return 0, 0
        seen.add(id(value))
        return value.numel() * value.element_size(), 1
    items: Any = ()
    if isinstance(value, list | tuple):
        items = value
    elif isinstance(value, dict):
        items = value.values()
    elif hasattr(value, "__dict__"):
        items = vars(value).values()
    total = count = 0
    for item in items:
        size, n = _tensor_bytes(item, seen)
        total, count = total + size, count + n
    return total, count


class Probe:
    def __init__(self, module: Any, device: str) -> None:
        self.module = module
        self.device = device

    def model(self, case: dict[str, Any], *, load: bool = True) -> tuple[Any, dict[str, Any]]:
        import torch

        torch.manual_seed(case["seed"])
        model = self.module.build(dict(case["config"]))
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"build(config) must return a torch.nn.Module, got {type(model).__name__}")
        info: dict[str, Any] = {}
        if load:
            info = self.load(model, case)
        return model.to(self.device).eval(), info

    def load(self, model: Any, case: dict[str, Any]) -> dict[str, Any]:
        """Copy the grader's weights into the learner's parameters by the layout's names."""
        import torch

        state = model.state_dict()
        layout = case["layout"]
        names = [name for name, _ in layout]
        shapes = {name: list(tensor.shape) for name, tensor in state.items()}
        problems = []
        for name, shape in layout:
            if name not in state:
                problems.append(f"{name} is missing")
            elif list(state[name].shape) != list(shape):
                problems.append(f"{name} has shape {list(state[name].shape)}, the layout says {list(shape)}")
        allowed = set(names) | ({"lm_head.weight"} if case["config"]["tie_embeddings"] else set())
        problems += [f"{name} is not in the layout" for name in sorted(set(state) - allowed)]
        if problems:
            raise LayoutError("; ".join(problems[:6]) + (f" (+{len(problems) - 6} more)" if len(problems) > 6 else ""))
        weights = make_weights(layout, case["seed"])
        with torch.no_grad():
            for name in names:
                state[name].copy_(weights[name])
        return {"state_dict": shapes}

    def tokens(self, case: dict[str, Any]) -> Any:
        return make_tokens(case["config"]["vocab_size"], case["batch"], case["seq_len"], case["seed"]).to(self.device)

    # One method per check; they return (scalars, {name: tensor})

    def shapes(self, case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        import torch

        model, info = self.model(case)
        with torch.no_grad():
            logits, _ = _forward(model, self.tokens(case))
        shape = list(logits.shape) if isinstance(logits, torch.Tensor) else None
        dtype = str(logits.dtype).removeprefix("torch.") if isinstance(logits, torch.Tensor) else type(logits).__name__
        return {"logits_shape": shape, "logits_dtype": dtype, **info}, {}

    def param_count(self, case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        model, _ = self.model(case, load=False)
        return {"parameters": sum(p.numel() for p in model.parameters())}, {}

    def blocks(self, case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        import torch

        model, _ = self.model(case)
        outputs: dict[str, Any] = {}
        blocks = getattr(model, "blocks", None)
        if blocks is None or len(blocks) != case["config"]["n_layers"]:
            raise LayoutError("model.blocks must be a ModuleList of n_layers blocks")

        def hook(index: int) -> Callable[..., None]:
            def record(_module: Any, _args: Any, output: Any) -> None:
                outputs[f"block{index}"] = (output[0] if isinstance(output, tuple | list) else output).detach()

            return record

        handles = [block.register_forward_hook(hook(i)) for i, block in enumerate(blocks)]
        try:
            with torch.no_grad():
                logits, _ = _forward(model, self.tokens(case))
        finally:
            for handle in handles:
                handle.remove()
        return {"blocks": len(outputs)}, {**outputs, "logits": logits}

    def logits(self, case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        import torch

        model, _ = self.model(case)
        with torch.no_grad():
            logits, _ = _forward(model, self.tokens(case))
        return {}, {"logits": logits}

    def causality(self, case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        import torch

        model, _ = self.model(case)
        ids = self.tokens(case)
        other = changed_after(ids.cpu(), case["t"], case["config"]["vocab_size"], case["seed"]).to(self.device)
        with torch.no_grad():
            first, _ = _forward(model, ids)
            second, _ = _forward(model, other)
        return {}, {"logits": first, "changed": second}

    def incremental(self, case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        import torch

        model, _ = self.model(case)
        ids = self.tokens(case)
        prefill = case["prefill"]
        with torch.no_grad():
            full, _ = _forward(model, ids)
            pieces, cache = [], None
            logits, cache = _forward(model, ids[:, :prefill], cache)
            pieces.append(logits)
            for t in range(prefill, ids.shape[1]):
                logits, cache = _forward(model, ids[:, t : t + 1], cache)
                pieces.append(logits)
        size, count = _tensor_bytes(cache, set())
        return {"cache_bytes": size, "cache_tensors": count}, {"full": full, "steps": torch.cat(pieces, dim=1)}

    def learning(self, case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The grader's training loop on the learner's model; hands over the trained weights. It
        draws training batches only: the held-out sequences are the check step's own."""
        import torch

        model, _ = self.model(case)
        model.train()
        task = case["task"]
        vocab = case["config"]["vocab_size"]
        generator = torch.Generator().manual_seed(case["seed"] + 3)
        optimizer = torch.optim.AdamW(model.parameters(), lr=task["lr"], weight_decay=0.0)
        started = time.process_time()
        steps = 0
        loss = None
        while steps < task["steps"]:
            steps += 1
            inputs, targets = copy_task_batch(vocab, task["batch"], task["length"], generator)
            optimizer.zero_grad()
            logits, _ = _forward(model, inputs.to(self.device))
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]).float(), targets.to(self.device).reshape(-1), ignore_index=-100
            )
            loss.backward()
            optimizer.step()
            if time.process_time() - started > task["cpu_budget_s"]:
                break
        state = model.state_dict()
        weights = {f"weights/{name}": state[name] for name, _ in case["layout"]}
        return {
            "steps": steps,
            "last_batch_loss": None if loss is None else float(loss),
            "cpu_s": round(time.process_time() - started, 3),
        }, weights

    def sampling(self, case: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        import torch

        logits = torch.tensor(case["logits"], dtype=torch.float32)
        if logits.dim() == 1:
            logits = logits.expand(case["rows"], -1).clone()
        generator = torch.Generator(device="cpu").manual_seed(case["seed"])
        drawn = self.module.sample(logits, case["temperature"], case["top_k"], case["top_p"], generator)
        if not isinstance(drawn, torch.Tensor):
            raise TypeError(f"sample(...) must return a LongTensor, got {type(drawn).__name__}")
        drawn = drawn.reshape(-1)
        if drawn.shape[0] != logits.shape[0]:
            raise TypeError(f"sample(...) returned {drawn.shape[0]} tokens for {logits.shape[0]} rows")
        return {"dtype": str(drawn.dtype).removeprefix("torch.")}, {"samples": drawn.long()}


class LayoutError(ValueError):
    """The module's parameters are not the published layout."""


PROBES = {
    "shapes": Probe.shapes,
    "param_count": Probe.param_count,
    "blocks": Probe.blocks,
    "logits": Probe.logits,
    "causality": Probe.causality,
    "incremental": Probe.incremental,
    "cache_bytes": Probe.incremental,
    "learning": Probe.learning,
    "greedy": Probe.sampling,
    "top_k": Probe.sampling,
    "top_p": Probe.sampling,
    "frequencies": Probe.sampling,
}


# ----------------------------------------------------------------------------------------------
# Running the cases


def find_module(submission: Path) -> Path | None:
    return common.find_module(submission, MODULE_NAME)


def _on_alarm(_signum: int, _frame: Any) -> None:
    raise CallTimeout


def _limited(seconds: float, call: Callable[..., Any], *args: Any) -> Any:
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return call(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def run(job: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    import torch

    if job.get("threads"):
        torch.set_num_threads(int(job["threads"]))
    submission = Path(str(job.get("submission", "submission")))
    cases = list(job.get("cases", []))
    module_path = find_module(submission)
    if module_path is None:
        return {"status": "no_module", "message": common.missing_module(MODULE_NAME), "results": {}}
    output: dict[str, Any] = {"status": "ok", "module": str(module_path.relative_to(submission)), "results": {}}
    started = time.perf_counter()
    try:
        module = _limited(
            float(job.get("import_timeout_s", DEFAULT_IMPORT_TIMEOUT_S)),
            lambda: common.import_module(module_path, MODULE_NAME),
        )
        failure = None
    except CallTimeout:
        failure = (
            f"importing {module_path.name} took longer than {job.get('import_timeout_s', DEFAULT_IMPORT_TIMEOUT_S)} s"
        )
    except BaseException as exc:
        failure = f"importing {module_path.name} failed: {common.describe_exception(exc)}"
    output["import"] = {
        "ok": failure is None,
        "message": failure or "",
        "elapsed_s": round(time.perf_counter() - started, 3),
    }
    tensors: dict[str, Any] = {}
    emit = common.progress_writer()
    probe = Probe(module, str(job.get("device", "cpu"))) if failure is None else None
    call_timeout = float(job.get("call_timeout_s", DEFAULT_CALL_TIMEOUT_S))
    for done, case in enumerate(cases, start=1):
        name = str(case["name"])
        if probe is None:
            output["results"][name] = {"status": "no_import", "message": failure, "elapsed_s": 0.0}
            continue
        function = "sample" if PROBES[case["check"]] is Probe.sampling else "build"
        if not callable(getattr(module, function, None)):
            output["results"][name] = {
                "status": "missing",
                "message": f"{module_path.name} does not define {function}()",
            }
            continue
        limit = float(case.get("task", {}).get("wall_budget_s", call_timeout))
        began = time.perf_counter()
        try:
            scalars, produced = _limited(limit, PROBES[case["check"]], probe, case)
            result = {"status": "ok", "message": "", **scalars}
            for key, value in produced.items():
                tensors[f"{name}/{key}"] = (
                    value.detach().to("cpu", torch.float32 if value.is_floating_point() else None).contiguous().clone()
                )
        except CallTimeout:
            result = {"status": "timeout", "message": f"the case did not finish within {limit:g} s"}
        except LayoutError as exc:
            result = {"status": "layout", "message": str(exc)[:MESSAGE_CHARS]}
        except BaseException as exc:  # SystemExit included: the learner's failure is this case's
            result = {
                "status": "error",
                "message": common.describe_exception(exc),
                "traceback": traceback.format_exc()[-1500:],
            }
        result["elapsed_s"] = round(time.perf_counter() - began, 3)
        output["results"][name] = result
        emit({"stage": "learner", "done": done, "total": len(cases)})
    if tensors:
        from safetensors.torch import save_file

        save_file(tensors, str(out_dir / TENSORS_NAME))
        output["tensors"] = TENSORS_NAME
    return output


def main(argv: list[str]) -> int:
    read = common.read_job(argv)
    if read is None:
        return 2
    job, out_path = read
    output = run(job, out_path.resolve().parent)
    out_path.write_text(json.dumps(output), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
