"""The grader registry: Django names a grader and its version in the payload; the runner looks it
up here and refuses a name it does not know or a version it does not implement.

Graders are listed as import paths and imported on first use, so importing this package never
pulls in torch. To add one, add its "module:Class" below (the class needs `name`, `version` and
`grade(ctx)`, see base.py).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from portfolio.runner.graders.base import (
    GradeContext,
    Grader,
    GradeReport,
    report_for_step,
)

__all__ = [
    "Grader",
    "GradeContext",
    "GradeReport",
    "UnknownGrader",
    "available",
    "get",
    "register",
    "report_for_step",
]

BUILTIN: dict[str, str] = {
    "script": "portfolio.runner.graders.script:ScriptGrader",
    "inference_benchmark": "portfolio.runner.graders.inference_benchmark:InferenceBenchmarkGrader",
    "kv_calculator": "portfolio.runner.graders.kv_calculator:KVCalculatorGrader",
    "tiny_transformer": "portfolio.runner.graders.tiny_transformer:TinyTransformerGrader",
    "quantizer": "portfolio.runner.graders.quantizer:QuantizerGrader",
    "bench_client": "portfolio.runner.graders.bench_client:BenchClientGrader",
}

_factories: dict[str, Callable[[], Grader]] = {}


class UnknownGrader(LookupError):
    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"grader {name!r} {reason}; this runner knows: {', '.join(available()) or 'none'}")
        self.name = name


def register(name: str, factory: Callable[[], Grader]) -> None:
    """Add a grader at run time (tests, or a plugin module imported by the worker)."""
    _factories[name] = factory


def available() -> list[str]:
    return sorted({*BUILTIN, *_factories})


def get(name: str) -> Grader:
    if name in _factories:
        return _factories[name]()
    target = BUILTIN.get(name)
    if target is None:
        raise UnknownGrader(name, "is not registered")
    module_name, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise UnknownGrader(name, f"could not be loaded ({exc})") from exc
    grader: Grader = cls()
    return grader
