"""Standalone scripts the runner starts inside the sandbox.

Each is run as ``RUNNER_PYTHON -I <script> input.json output.json`` with the job step's folder as
its working directory (README.md, "Harness scripts"). Scripts that run learner code are bound
into the sandbox alone, so they must import only the standard library (and torch/transformers):
nothing from this package is visible to them. `trusted` is not a script: it holds what the
ground-truth harnesses (kv/harness_measure.py, bench/harness_run.py) share, which see the whole
runner package.
"""

from __future__ import annotations
