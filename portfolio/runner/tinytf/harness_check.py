"""Harness script (the trusted step): ``RUNNER_PYTHON -I harness_check.py input.json output.json``.

Judges what the learner's step recorded. For every case it draws the same weights and inputs from
the case's seed (harness_learner.make_weights / make_tokens), runs the grader's own reference
(reference.forward, float64) or computes the target sampling distribution, and compares them with
the learner's tensors, which it reads from a safetensors file (a format that holds data only).
It never runs learner code, and it trusts no number the learner's step reports: the learning case
loads the trained weights the learner's step handed over into the reference and computes the
held-out loss itself, on copy-task sequences drawn from a seed that only this step is given.

Input (JSON object):
    cases     [cases.check_input(...)]: what the learner's step got, plus what only this step
              may know (the learning case's held-out seed)
    learner   the learner step's "results" ({case name: {"status", ...scalars}})
    tensors   path of the learner's tensors file, or null when it wrote none
    threads   torch intra-op threads (optional)

Output: {"status": "ok", "checks": {case name: {"passed": bool, "message": str, "measure": float |
None}}, "versions": {...}, "wall_s": float}; "error" with a traceback when the harness failed.
Exit status 0 when output.json says ok, 1 otherwise, 2 for a bad command line.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from portfolio.runner.harness import trusted  # noqa: E402 - after the path

_emit = trusted.progress_writer()


def _relative_gap(observed: Any, reference: Any) -> float:
    import torch

    if observed.shape != reference.shape:
        return float("inf")
    gap = (observed.to(torch.float64) - reference.to(torch.float64)).abs().max().item()
    return gap / max(1.0, reference.abs().max().item())


def _verdict(passed: bool, message: str, measure: float | None = None) -> dict[str, Any]:
    return {"passed": bool(passed), "message": message, "measure": measure}


def target_distribution(logits: Any, temperature: float, top_k: int, top_p: float) -> Any:
    """The distribution sample() must draw from (contract.SEMANTICS), in float64."""
    import torch

    logits = logits.to(torch.float64)
    if temperature == 0:
        return torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).to(torch.float64)
    probs = (logits / temperature).softmax(-1)
    if top_k:
        kth = probs.topk(min(top_k, probs.shape[-1]), dim=-1).values[..., -1:]
        probs = probs.masked_fill(probs < kth, 0.0)
        probs = probs / probs.sum(-1, keepdim=True)
    if top_p < 1.0:
        ordered, order = probs.sort(dim=-1, descending=True)
        ordered = ordered.masked_fill(ordered.cumsum(-1) - ordered >= top_p, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, ordered)
        probs = probs / probs.sum(-1, keepdim=True)
    return probs


def judge_samples(case: dict[str, Any], samples: Any) -> dict[str, Any]:
    """Support exactly the target's, then a chi-square test of the counts (rows share one target)."""
    import torch

    from portfolio.runner.tinytf import cases

    logits = torch.tensor(case["logits"], dtype=torch.float64)
    if logits.dim() == 1:
        logits = logits.expand(case["rows"], -1)
    target = target_distribution(logits, case["temperature"], case["top_k"], case["top_p"])
    samples = samples.to(torch.long)
    if samples.min() < 0 or samples.max() >= target.shape[-1]:
        return _verdict(False, "returned token ids outside the vocabulary")
    drawn_p = target.gather(-1, samples[:, None]).squeeze(-1)
    outside = int((drawn_p == 0).sum())
    if outside:
        token = int(samples[drawn_p == 0][0])
        return _verdict(False, f"drew a token the rule excludes (token {token}, {outside} of {len(samples)} draws)")
    if case["temperature"] == 0:
        return _verdict(True, f"all {len(samples)} rows are the argmax")
    expected = target[0] * len(samples)
    counts = torch.bincount(samples, minlength=target.shape[-1]).to(torch.float64)
    kept = expected > 0
    never = [int(i) for i in torch.nonzero(kept & (counts == 0)).flatten()]
    if never:
        share = float(target[0, never[0]])
        return _verdict(False, f"never drew token {never[0]} (target probability {share:.3g}) in {len(samples)} draws")
    dof = int(kept.sum()) - 1
    if dof == 0:
        return _verdict(True, "the one kept token was drawn every time")
    statistic = float((((counts - expected) ** 2)[kept] / expected[kept]).sum())
    p_value = float(torch.special.gammaincc(torch.tensor(dof / 2), torch.tensor(statistic / 2)))
    observed = ", ".join(f"{int(i)}: {counts[i] / len(samples):.3f}" for i in torch.nonzero(kept).flatten())
    aimed = ", ".join(f"{int(i)}: {float(target[0, i]):.3f}" for i in torch.nonzero(kept).flatten())
    passed = p_value > cases.P_VALUE_MIN
    text = f"frequencies {{{observed}}} against {{{aimed}}}: chi-square p = {p_value:.3g}"
    return _verdict(passed, text, p_value)


def heldout_loss(config: dict[str, Any], weights: dict[str, Any], inputs: Any, targets: Any) -> float:
    import torch

    from portfolio.runner.tinytf import reference

    logits, _ = reference.forward(config, weights, inputs)
    loss = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100
    )
    return float(loss)


def judge_learning(case: dict[str, Any], trained: dict[str, Any]) -> dict[str, Any]:
    """The held-out loss of the handed-over weights in the reference, on fresh sequences."""
    import torch

    from portfolio.runner.tinytf import cases
    from portfolio.runner.tinytf.harness_learner import copy_task_batch, make_weights

    problems = []
    for name, shape in case["layout"]:
        if name not in trained:
            problems.append(f"{name} is missing")
        elif list(trained[name].shape) != list(shape) or not trained[name].is_floating_point():
            problems.append(f"{name} is {trained[name].dtype} {list(trained[name].shape)}, the layout says {shape}")
    if problems:
        shown = "; ".join(problems[:3]) + (f" (+{len(problems) - 3} more)" if len(problems) > 3 else "")
        return _verdict(False, f"the trained weights handed over are not the published layout: {shown}")
    config, task = case["config"], case["task"]
    generator = torch.Generator().manual_seed(case["heldout_seed"])
    inputs, targets = copy_task_batch(config["vocab_size"], task["eval_batch"], task["length"], generator)
    before = heldout_loss(config, make_weights(case["layout"], case["seed"]), inputs, targets)
    after = heldout_loss(config, {name: trained[name] for name, _ in case["layout"]}, inputs, targets)
    passed = math.isfinite(after) and after < cases.LOSS_THRESHOLD
    text = (
        f"held-out loss {before:.3f} -> {after:.3f} nats (threshold {cases.LOSS_THRESHOLD:g}), computed by the "
        f"grader's reference with the trained weights on {task['eval_batch']} sequences the training never saw"
    )
    return _verdict(passed, text, after if math.isfinite(after) else None)


def judge(case: dict[str, Any], learned: dict[str, Any], tensors: dict[str, Any]) -> dict[str, Any]:
    from portfolio.runner.tinytf import cases, contract, reference
    from portfolio.runner.tinytf.harness_learner import make_tokens, make_weights

    check, config, name = case["check"], case["config"], case["name"]

    def tensor(key: str) -> Any:
        if f"{name}/{key}" not in tensors:
            raise MissingTensor(key)
        return tensors[f"{name}/{key}"]

    if check == "shapes":
        want = [case["batch"], case["seq_len"], config["vocab_size"]]
        ok = learned.get("logits_shape") == want and learned.get("logits_dtype") == contract.DTYPE
        return _verdict(ok, f"logits {learned.get('logits_shape')} {learned.get('logits_dtype')}, want {want} float32")
    if check == "param_count":
        want = contract.parameter_count(config)
        got = learned.get("parameters")
        return _verdict(got == want, f"{got:,} parameters, the config implies {want:,}" if isinstance(got, int) else "")
    if check == "cache_bytes":
        want = contract.cache_bytes(config, case["batch"], case["seq_len"])
        got = learned.get("cache_bytes")
        return _verdict(
            got == want, f"the cache holds {got:,} bytes after {case['seq_len']} tokens, the config implies {want:,}"
        )
    if check == "learning":
        prefix = f"{name}/weights/"
        return judge_learning(case, {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)})
    if check in ("greedy", "top_k", "top_p", "frequencies"):
        return judge_samples(case, tensor("samples"))
    ids = make_tokens(config["vocab_size"], case["batch"], case["seq_len"], case["seed"])
    if check == "causality":
        t = case["t"]
        gap = _relative_gap(tensor("logits")[:, : t + 1], tensor("changed")[:, : t + 1])
        return _verdict(
            gap <= cases.TOLERANCE, f"changing tokens after position {t} moved logits at <= {t} by {gap:.3g}", gap
        )
    if check == "incremental":
        gap = _relative_gap(tensor("steps"), tensor("full"))
        text = f"step-by-step logits differ from the full forward by {gap:.3g} after a {case['prefill']}-token prefill"
        return _verdict(gap <= cases.TOLERANCE, text, gap)
    weights = make_weights(case["layout"], case["seed"])
    logits, blocks = reference.forward(config, weights, ids)
    if check == "blocks":
        for i, block in enumerate(blocks):
            gap = _relative_gap(tensor(f"block{i}"), block)
            if gap > cases.TOLERANCE:
                return _verdict(
                    False, f"block {i} differs from the reference by {gap:.3g} (blocks before it agree)", gap
                )
        return _verdict(True, f"all {len(blocks)} blocks agree with the reference")
    if check == "logits":
        gap = _relative_gap(tensor("logits"), logits)
        return _verdict(gap <= cases.TOLERANCE, f"logits differ from the reference by {gap:.3g}", gap)
    raise ValueError(f"unknown check {check!r}")


class MissingTensor(LookupError):
    pass


def run(job: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    import torch
    import transformers

    if job.get("threads"):
        torch.set_num_threads(int(job["threads"]))
    tensors: dict[str, Any] = {}
    if job.get("tensors"):
        from safetensors.torch import load_file

        tensors = load_file(str(job["tensors"]))
    learner = job.get("learner") or {}
    checks: dict[str, Any] = {}
    for case in job["cases"]:
        learned = learner.get(case["name"]) or {}
        if learned.get("status") != "ok":
            continue
        try:
            checks[case["name"]] = judge(case, learned, tensors)
        except MissingTensor as exc:
            checks[case["name"]] = _verdict(False, f"the learner's step recorded no {exc.args[0]} for this case")
        _emit({"stage": "check", "case": case["name"]})
    return {
        "status": "ok",
        "checks": checks,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        "wall_s": round(time.perf_counter() - started, 3),
    }


if __name__ == "__main__":
    sys.exit(trusted.main(sys.argv, run, required=("cases",)))
