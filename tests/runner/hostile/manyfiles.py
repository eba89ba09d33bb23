"""Creates empty files: `manyfiles.py WHERE COUNT` makes COUNT empty files in WHERE ("." is the
job folder; /tmp or /dev/shm are the sandbox's own tmpfs), 100 to a folder, then lingers a
moment. Prints how many it made."""

from __future__ import annotations

import json
import os
import sys
import time

where, count = sys.argv[1], int(sys.argv[2])
made = 0
for index in range(count):
    folder = os.path.join(where, f"many-{index // 100}")
    try:
        if index % 100 == 0:
            os.mkdir(folder)
        with open(os.path.join(folder, f"{index}.txt"), "w"):
            pass
        made += 1
    except OSError:
        time.sleep(0.01)
time.sleep(0.5)
print(json.dumps({"ok": True, "made": made}))
