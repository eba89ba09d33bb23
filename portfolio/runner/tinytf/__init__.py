"""The tiny transformer grader's science (artifact 01): the contract (config schema, parameter
layout, sampling rules), the cases, the grader's reference implementation and the two harnesses.
`contract`, `cases` and `grade` are standard library only; the rest needs torch."""
