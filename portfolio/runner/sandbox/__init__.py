"""Run untrusted code under bubblewrap as an unprivileged user, with rlimits and a wall clock.

`launch` is the entry point (`run`, `probe`, `ensure_available`, `prepare_work_dir`); it builds the
command line with `command` (prlimit, bwrap's mounts and environment, the start marker), hands it
to `supervise` (output caps, the wall clock, /proc sampling, killing the tree), which asks
`outcome.classify` how the run ended. `config` holds `SandboxConfig`, read from the environment.
"""

from __future__ import annotations
