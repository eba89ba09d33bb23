"""Results-upload validation: every missing workload field and bad value named."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from portfolio.runner.bench import results

UPLOAD = {
    "workload": {
        "model": "meta-llama/Llama-3.1-8B-Instruct",
        "dtype": "bfloat16",
        "hardware": "1x NVIDIA H100 80GB SXM",
        "engine": "vllm",
        "engine_version": "0.11.0",
        "prompt_tokens": 512,
        "output_tokens": 128,
        "concurrency": 8,
        "num_requests": 2,
    },
    "claimed": {"mean_ttft_ms": 40.0},
    "raw": {
        "start_times": [0.0, 0.01],
        "ttfts": [0.04, 0.04],
        "itls": [[0.01], [0.01]],
        "latencies": [0.05, 0.05],
        "output_lens": [2, 2],
    },
}


def test_valid_upload_normalises() -> None:
    doc, errors = results.validate_results(UPLOAD)
    assert errors == [] and doc is not None
    assert doc["workload"]["prompt_tokens"] == {"kind": "fixed", "value": 512}
    assert doc["workload"]["slo"] == {}


def test_upload_names_each_missing_workload_field() -> None:
    doc, errors = results.validate_results({"workload": {}, "claimed": {"mean_ttft_ms": 1.0}})
    assert doc is None
    assert [e["path"] for e in errors] == [f"workload.{key}" for key in results.RESULTS_WORKLOAD_FIELDS]
    for key in results.RESULTS_WORKLOAD_FIELDS:
        partial = copy.deepcopy(UPLOAD)
        del partial["workload"][key]
        _, errors = results.validate_results(partial)
        assert [e["path"] for e in errors] == [f"workload.{key}"]
        assert "is required" in errors[0]["message"]


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d.pop("claimed"), "claimed"),
        (lambda d: d["claimed"].update(p99_ttft=3.0), "claimed.p99_ttft"),
        (lambda d: d["claimed"].update(mean_ttft_ms="fast"), "claimed.mean_ttft_ms"),
        (lambda d: d["workload"].update(concurrency=0), "workload.concurrency"),
        (lambda d: d["workload"].update(hardware=""), "workload.hardware"),
        (lambda d: d["workload"].update(gpu="H100"), "workload.gpu"),
        (lambda d: d["raw"].update(ttfts=[0.04]), "raw.ttfts"),
        (lambda d: d["raw"].pop("latencies"), "raw.latencies"),
        (lambda d: d["raw"].update(itls=[[0.01], "x"]), "raw.itls[1]"),
        (lambda d: d["raw"].update(output_lens=[2, -1]), "raw.output_lens[1]"),
        (lambda d: d["raw"].pop("start_times"), "raw.start_times"),
        (lambda d: d.update(extra=1), "extra"),
    ],
)
def test_invalid_upload_fields_are_named(mutate: Any, path: str) -> None:
    doc = copy.deepcopy(UPLOAD)
    mutate(doc)
    _, errors = results.validate_results(doc)
    assert path in [e["path"] for e in errors]
