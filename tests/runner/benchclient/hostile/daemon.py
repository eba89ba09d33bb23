"""bench_client.py that leaves a daemon behind (a new session, so not in the client's process
group) to send requests and forge the step's output once the client has returned."""

from __future__ import annotations

import json
import os
import time
import urllib.request

import honest


def run(base_url, workload):
    parent = os.getpid()
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            while os.getppid() == parent or _alive(parent):
                time.sleep(0.05)
            time.sleep(1.5)
            for _ in range(200):
                with open("output.json", "w") as fh:
                    json.dump({"status": "ok", "cases": []}, fh)
                try:
                    body = json.dumps({"prompt": "x", "max_tokens": 1}).encode()
                    urllib.request.urlopen(base_url + "/v1/completions", body, timeout=1)
                except OSError:
                    pass
                time.sleep(0.05)
        os._exit(0)
    return honest.run(base_url, workload)


def _alive(pid):
    return os.path.exists(f"/proc/{pid}")
