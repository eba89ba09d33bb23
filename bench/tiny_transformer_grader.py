"""How long the tiny transformer grader takes for its whole suite on this machine.

    .venv-runner/bin/python bench/tiny_transformer_grader.py [--repeats 3]

Runs the real grader as a runner worker would (`jobs.execute`, bubblewrap sandbox, the learner
step then the check step) on the correct submission of the tests, several times, and prints the
wall time of each job and how it splits. Target (issue 17): the whole suite in under 60 s on this
2-core CPU.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.kv_grader import suite_main  # noqa: E402
from portfolio.runner.tinytf import cases  # noqa: E402

SUBMISSION = ROOT / "tests" / "runner" / "tinytf" / "submissions" / "correct.py"


def _details(result: dict[str, Any]) -> str:
    metrics = result.get("metrics", {})
    return (
        f"learner step {metrics.get('learner_wall_s')} s (training {metrics.get('training_cpu_s')} s CPU), "
        f"check step {metrics.get('check_wall_s')} s inside, on {metrics.get('device')}"
    )


def main() -> None:
    workload = (
        f"{len(cases.all_cases())} cases ({len(cases.public_cases())} public, {len(cases.hidden_cases())} hidden)"
    )
    suite_main(__doc__, "tiny_transformer", ("tiny_transformer.py", SUBMISSION), _details, 60, workload)


if __name__ == "__main__":
    main()
