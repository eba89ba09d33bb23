"""Load config/settings.py with another environment, without touching this process's settings."""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path
from types import ModuleType
from unittest import mock

SETTINGS = Path(__file__).resolve().parents[2] / "config" / "settings.py"
SERVER_VARIABLES = ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "CACHE_URL", "LOG_FORMAT", "DEBUG")


def load_settings(**env: str) -> ModuleType:
    folder = tempfile.mkdtemp(prefix="layerwise-settings-")
    environ = {k: v for k, v in os.environ.items() if k not in SERVER_VARIABLES and not k.startswith("RATE_LIMIT_")}
    environ.update({"VAR_DIR": folder, "DEBUG": "1", **env})
    spec = importlib.util.spec_from_file_location("settings_under_test", SETTINGS)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    try:
        with mock.patch.dict(os.environ, environ, clear=True):
            spec.loader.exec_module(module)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return module
