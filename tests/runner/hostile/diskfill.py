"""Fills the disk: `diskfill.py WHERE MIB [FILE_MIB]` writes MIB MiB into WHERE ("." is the job
folder, or /tmp), in files of FILE_MIB MiB each (all in one file when FILE_MIB is 0); a write the
file system refuses is retried a while, as a stubborn program would. Prints what it managed."""

from __future__ import annotations

import json
import os
import sys
import time

where, total_mib = sys.argv[1], int(sys.argv[2])
file_mib = int(sys.argv[3]) if len(sys.argv) > 3 else 0
per_file = file_mib or total_mib
chunk = b"\1" * (1 << 20)
written = refused = 0
for first in range(0, total_mib, per_file):
    try:
        with open(os.path.join(where, f"fill-{first}.bin"), "wb", buffering=0) as handle:
            for _ in range(min(per_file, total_mib - first)):
                try:
                    handle.write(chunk)
                    written += 1
                except OSError:
                    refused += 1
                    time.sleep(0.05)
    except OSError:
        refused += 1
        time.sleep(0.05)
time.sleep(0.5)
print(json.dumps({"ok": True, "written_mib": written, "refused": refused}))
