"""The KV cache calculator grader (artifact 09): catalog, analytic reference, measurement, cases.

Pure-Python modules (importable by the web app, standard library only): `catalog`, `reference`,
`cases`, `grade`. `measure` imports torch and transformers inside its functions and runs only in
the runner env. `harness_call.py` and `harness_measure.py` are harness scripts
(``RUNNER_PYTHON -I script input.json output.json``).
"""

from __future__ import annotations
