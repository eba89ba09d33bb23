"""Standalone scripts the runner starts inside the sandbox.

Each is run as ``RUNNER_PYTHON -I <script> input.json output.json`` with the job step's folder as
its working directory (README.md, "Harness scripts"). Scripts that run learner code are bound
into the sandbox with one module beside them, `common` (standard library only: reading input.json,
progress lines, finding the learner's module, describing its exceptions), so they must import
only the standard library, torch/transformers and `common`: nothing else of this package is
visible to them. `trusted` is not a script either: it holds what the ground-truth harnesses
(kv/harness_measure.py, bench/harness_run.py, tinytf/harness_check.py) share, which see the
whole runner package.
"""

from __future__ import annotations
