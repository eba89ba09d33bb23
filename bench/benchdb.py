"""Point Django at the benchmark database before anything imports the settings.

The benchmark never touches the development database: it uses var/bench/bench.sqlite3 (or
BENCH_DATABASE_URL, for example a PostgreSQL database made for the purpose), with production-like
settings (DEBUG off, hashed static files collected into var/bench/static).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "var" / "bench"
SQLITE_PATH = BENCH_DIR / "bench.sqlite3"


def setup() -> None:
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{SQLITE_PATH}"
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "benchmark-only-not-a-secret-" + "x" * 30)
    os.environ["SECURE_SSL_REDIRECT"] = "0"
    os.environ["ALLOWED_HOSTS"] = "testserver,localhost"
    os.environ["STATIC_ROOT"] = str(BENCH_DIR / "static")
    os.environ["VAR_DIR"] = str(BENCH_DIR / "var")
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()


def machine() -> str:
    """CPU model, cores, Python, Django and the database, for the figures' provenance."""
    import django
    from django.db import connection

    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip() or "?"
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("select sqlite_version()")
            database = f"SQLite {cursor.fetchone()[0]} (WAL) at {connection.settings_dict['NAME']}"
        else:
            cursor.execute("select version()")
            database = cursor.fetchone()[0].split(",")[0]
    return (
        f"{cpu}, {cores} cores (nproc), {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, Django {django.get_version()}; {database}"
    )
