"""The quantizer grader's science (artifact 10): cases and claims (`cases`), the learner-code step
(`harness_learner`), the trusted steps (`harness_truth`, `measure`) and the verdicts (`grade`).
See portfolio/runner/graders/quantizer.py for how the steps are chained."""
