"""Running the `layerwise` client as a subprocess against the live test server: `python -m
layerwise` with this checkout's clients/python/src first on the path, so the tests exercise the code
beside them whether or not the installed copy is current. Each call gets an empty config folder
(XDG_CONFIG_HOME) unless the test gives one, so nothing of the developer's own login leaks in."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CLIENT_SRC = REPO / "clients/python/src"


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def layerwise(
    *args: str,
    url: str | None,
    token: str | None,
    config_home: Path,
    stdin: str = "",
    cwd: Path | None = None,
    timeout: float = 60,
    program: list[str] | None = None,
) -> Result:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAYERWISE_") and k != "NO_COLOR"}
    env["PYTHONPATH"] = os.pathsep.join([str(CLIENT_SRC), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["XDG_CONFIG_HOME"] = str(config_home)
    if url is not None:
        env["LAYERWISE_URL"] = url
    if token is not None:
        env["LAYERWISE_TOKEN"] = token
    proc = subprocess.run(
        [*(program or [sys.executable, "-m", "layerwise"]), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd or REPO,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def layerwise_on_a_terminal(*args: str, url: str, token: str, config_home: Path, timeout: float = 60) -> Result:
    """The same with stdout and stderr on a pseudo-terminal, as in an interactive shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAYERWISE_") and k != "NO_COLOR"}
    env |= {"PYTHONPATH": str(CLIENT_SRC), "XDG_CONFIG_HOME": str(config_home), "TERM": "xterm"}
    env |= {"LAYERWISE_URL": url, "LAYERWISE_TOKEN": token}
    main, secondary = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "layerwise", *args],
            stdin=subprocess.DEVNULL,
            stdout=secondary,
            stderr=secondary,
            env=env,
            cwd=REPO,
        )
        os.close(secondary)
        chunks = []
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        code = proc.wait(timeout)
    finally:
        os.close(main)
    return Result(code, b"".join(chunks).decode(errors="replace"), "")
