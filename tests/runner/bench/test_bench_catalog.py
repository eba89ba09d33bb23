"""The catalog: published model sizes, and the listing on the spec page."""

from __future__ import annotations

import json

import pytest

from portfolio.runner.bench import catalog, fitting, model_config
from tests.runner.bench.helpers import BASE, valid


@pytest.mark.parametrize(
    ("name", "published"),
    [
        # Parameter counts of the published checkpoints; equal only if every shape field is right.
        ("llama-3.1-8b", 8_030_261_248),
        ("qwen2.5-7b", 7_615_616_512),
        ("mistral-7b-v0.3", 7_248_023_552),
        ("qwen2.5-0.5b", 494_032_768),
    ],
)
def test_gpu_catalog_matches_published_sizes(name: str, published: int) -> None:
    norm = valid({**BASE, "architecture": name})
    assert model_config.param_count(norm["config"]) == published
    assert f"{published:,}" in catalog.GPU_CATALOG[name]["description"]


def test_catalog_listing_for_the_spec_page() -> None:
    rows = {row["name"]: row for row in catalog.listing()}
    assert set(rows) == {*catalog.CPU_CATALOG, *catalog.GPU_CATALOG}
    assert rows["tiny-llama"]["device_class"] == "cpu" and rows["llama-3.1-8b"]["device_class"] == "gpu"
    assert rows["llama-3.1-8b"]["params"] == 8_030_261_248 and rows["llama-3.1-8b"]["kv_bytes_per_token_bf16"] == 131072
    assert all(row["params"] < fitting.CPU_MAX_PARAMS for row in rows.values() if row["device_class"] == "cpu")
    json.dumps(list(rows.values()))
