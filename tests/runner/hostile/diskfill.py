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
chunk = b"\1" * (1 << 20)
written = refused = 0
handle = None
for index in range(total_mib):
    if handle is None or (file_mib and index % file_mib == 0):
        if handle is not None:
            handle.close()
        handle = open(os.path.join(where, f"fill-{index}.bin"), "wb", buffering=0)
    try:
        handle.write(chunk)
        written += 1
    except OSError:
        refused += 1
        time.sleep(0.05)
if handle is not None:
    try:
        handle.close()
    except OSError:
        pass
time.sleep(0.5)
print(json.dumps({"ok": True, "written_mib": written, "refused": refused}))
