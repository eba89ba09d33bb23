"""The inference benchmark (artifact 07): workload spec, catalog, planning, harness, metrics, uploads.

Pure-Python modules (the web app imports them, standard library only): `checks`, `lengths`,
`model_config`, `catalog`, `workload`, `planning`, `fitting`, `results`, `metrics`, `uploads`,
and `roofline`'s arithmetic. `harness` imports torch and transformers and runs only in the runner
env; `harness_run.py` is the harness script (``RUNNER_PYTHON -I harness_run.py input.json
output.json``). README.md has the map.
"""

from __future__ import annotations
