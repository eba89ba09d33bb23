"""Sleeps forever, with children that start their own sessions to escape a process-group kill.
Every process carries the token given as argv[1], so the test can look for strays."""

from __future__ import annotations

import os
import sys
import time

token = sys.argv[1]
for _ in range(3):
    if os.fork() == 0:
        os.setsid()
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)", token])
time.sleep(600)
