"""compose.yaml, Dockerfile and Dockerfile.runner, checked as files: no container engine is needed.
bin/compose-check (`make compose-check`) builds the images and runs the stack for real."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
from django.test import SimpleTestCase

REPO = Path(__file__).resolve().parents[2]
DJANGO_SERVICES = {"migrate", "web", "worker", "beat"}
SECRETS = {
    "DATABASE_URL",
    "SECRET_KEY",
    "CREDENTIAL_SIGNING_KEY",
    "POSTGRES_PASSWORD",
    "EMAIL_HOST_PASSWORD",
    "REDIS_URL",
}
_VARIABLE = re.compile(r"\$\{(\w+)(?::?[-?])?([^}]*)\}")


def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "compose.yaml").read_text())


def substitute(value: str, env: dict[str, str]) -> str:
    """compose's ${VAR}, ${VAR:-default} and ${VAR:?error}, with `env` as the .env file."""
    return _VARIABLE.sub(lambda m: env.get(m.group(1)) or (m.group(2) if "?" not in m.group(0) else ""), value)


def pins(path: Path) -> dict[str, str]:
    return dict(
        line.split("==", 1) for line in path.read_text().splitlines() if "==" in line and not line.startswith("#")
    )


class ComposeTests(SimpleTestCase):
    def setUp(self) -> None:
        self.services = compose()["services"]

    def test_it_has_web_workers_beat_the_runner_and_the_servers(self):
        assert set(self.services) == DJANGO_SERVICES | {"postgres", "redis", "runner-gpu0", "runner-cpu"}
        assert self.services["worker"]["command"][:6] == ["celery", "-A", "config", "worker", "-Q", "default"]
        assert self.services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]
        assert self.services["beat"]["deploy"]["replicas"] == 1
        assert self.services["web"]["command"] == ["gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"]

    def test_the_django_services_get_the_database_the_broker_and_required_secrets(self):
        for name in DJANGO_SERVICES:
            env = self.services[name]["environment"]
            assert env["DATABASE_URL"].startswith("postgres://layerwise:${POSTGRES_PASSWORD:?"), name
            assert env["CELERY_BROKER_URL"] == "redis://redis:6379/0" and env["REDIS_URL"] == "redis://redis:6379/1"
            # No secret has a default in git: compose refuses to start until .env sets it.
            assert env["SECRET_KEY"].startswith("${SECRET_KEY:?"), name
            assert env["CREDENTIAL_SIGNING_KEY"].startswith("${CREDENTIAL_SIGNING_KEY:?"), name
            assert env["LOG_FORMAT"] == "json"
            assert "media:/app/media" in self.services[name]["volumes"]
        assert self.services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert "migrate --noinput" in " ".join(self.services["migrate"]["command"])
        assert "load_roadmaps" in " ".join(self.services["migrate"]["command"])

    def test_the_gpu_runner_gets_the_broker_and_a_gpu_never_the_databases_or_secrets(self):
        runner = self.services["runner-gpu0"]
        env = runner["environment"]
        assert not SECRETS & set(env), SECRETS & set(env)
        assert "env_file" not in runner and "volumes" not in runner  # nothing of the web's
        assert env["CELERY_BROKER_URL"].startswith("${RUNNER_BROKER_URL:-redis://")
        assert env["RUNNER_PYTHON"] and env["CUDA_VISIBLE_DEVICES"] == "0"
        assert runner["command"][:8] == [
            "celery",
            "-A",
            "portfolio.runner.celery_app",
            "worker",
            "-Q",
            "runner",
            "-c",
            "1",
        ]
        assert "gpu0@%h" in runner["command"]
        [device] = runner["deploy"]["resources"]["reservations"]["devices"]
        assert device == {"driver": "nvidia", "device_ids": ["0"], "capabilities": ["gpu"]}
        assert runner["build"]["dockerfile"] == "Dockerfile.runner" and runner["profiles"] == ["gpu"]

    def test_the_cpu_runner_is_the_same_image_file_without_a_gpu_or_secrets(self):
        runner = self.services["runner-cpu"]
        assert not SECRETS & set(runner["environment"])
        assert "env_file" not in runner and "volumes" not in runner and "deploy" not in runner
        assert runner["build"]["dockerfile"] == "Dockerfile.runner" and runner["profiles"] == ["cpu"]
        args = runner["build"]["args"]
        assert args["BASE"].endswith(":-debian:bookworm-slim}")
        assert args["TORCH_INDEX_URL"].endswith(":-https://download.pytorch.org/whl/cpu}")
        assert runner["command"][:8] == self.services["runner-gpu0"]["command"][:8]
        assert "systempaths=unconfined" in runner["security_opt"]  # bubblewrap mounts its own /proc

    def test_the_server_images_default_to_the_official_ones(self):
        assert self.services["postgres"]["image"] == "${POSTGRES_IMAGE:-postgres:17}"
        assert self.services["redis"]["image"] == "${REDIS_IMAGE:-redis:7}"

    def test_healthchecks_use_readyz_pg_isready_and_redis_ping(self):
        assert "/readyz" in " ".join(self.services["web"]["healthcheck"]["test"])
        assert "pg_isready" in " ".join(self.services["postgres"]["healthcheck"]["test"])
        assert self.services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
        assert "--appendonly" in self.services["redis"]["command"]  # a restart keeps the queues
        # The worker's node name is django@<hostname>; podman sets no HOSTNAME variable.
        assert "django@$(hostname)" in self.services["worker"]["healthcheck"]["test"][1].replace("$$", "$")
        for name in ("web", "worker", "migrate"):
            assert self.services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"

    def test_the_web_environment_passes_check_deploy(self):
        """The variables compose hands the web service, with a .env filled in, are a production
        configuration that Django's deploy checks accept (DATABASE_URL is only parsed here)."""
        dotenv = {
            "SECRET_KEY": secrets.token_urlsafe(50),
            "POSTGRES_PASSWORD": "pw",
            "ALLOWED_HOSTS": "layerwise.example",
            "EMAIL_HOST": "smtp.layerwise.example",
        }
        env = {k: substitute(str(v), dotenv) for k, v in self.services["web"]["environment"].items()}
        folder = Path(tempfile.mkdtemp(prefix="layerwise-compose-"))
        self.addCleanup(shutil.rmtree, folder, True)
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
        done = subprocess.run(
            [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
            cwd=REPO,
            env={**keep, **env, "VAR_DIR": str(folder)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def test_every_variable_in_env_example_is_one_compose_reads(self):
        used = {m.group(1) for m in _VARIABLE.finditer((REPO / "compose.yaml").read_text())}
        lines = (REPO / ".env.example").read_text().splitlines()
        example = {m.group(1) for line in lines if (m := re.match(r"#? ?([A-Z_]+)=", line))}
        assert example <= used, example - used
        required = {"SECRET_KEY", "CREDENTIAL_SIGNING_KEY", "POSTGRES_PASSWORD", "ALLOWED_HOSTS", "EMAIL_HOST"}
        assert required | {"RUNNER_BROKER_URL"} <= example


class DockerfileTests(SimpleTestCase):
    def test_the_web_image_is_slim_python_312_non_root_with_collected_static_files(self):
        text = (REPO / "Dockerfile").read_text()
        # The base is a build argument: python:3.12-slim by default, a local Debian base elsewhere.
        assert re.search(r"^ARG BASE=python:3\.12-slim$", text, re.M)
        assert re.search(r"^FROM \$\{BASE\}$", text, re.M)
        assert "sys.version_info >= (3, 12)" in text
        assert "collectstatic --noinput" in text and "pip install -r requirements.txt" in text
        assert re.search(r"^USER (?!root)\w+", text, re.M)
        assert 'CMD ["gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"]' in text
        assert "/readyz" in text

    def test_the_runner_image_has_cuda_python_311_pinned_torch_bubblewrap_and_no_django(self):
        text = (REPO / "Dockerfile.runner").read_text()
        assert re.search(r"^ARG BASE=nvidia/cuda:[\w.-]+-runtime-", text, re.M)
        assert re.search(r"^FROM \$\{BASE\}$", text, re.M)
        assert re.search(r"^ARG TORCH_INDEX_URL=https://download\.pytorch\.org/whl/cu\d+$", text, re.M)
        assert "python3.11" in text and "bubblewrap" in text
        assert "portfolio/runner/requirements.txt" in text and "torch==${torch_version}" in text
        assert re.search(r"^USER (?!root)\w+", text, re.M)
        copied = re.findall(r"^COPY (\S+)", text, re.M)
        assert set(copied) == {"portfolio/runner/requirements.txt", "portfolio/__init__.py", "portfolio/runner"}
        runner = pins(REPO / "portfolio" / "runner" / "requirements.txt")
        assert {"torch", "transformers", "celery"} <= set(runner) and not {"Django", "psycopg[binary]"} & set(runner)

    def test_the_web_requirements_bring_what_the_redis_transport_imports(self):
        """The first real build found it: the Django worker and beat failed at start with "No module
        named 'packaging'" (kombu's Redis transport), which the dev environment had from pytest."""
        from importlib.metadata import requires

        extra = [r.split(";")[0] for r in requires("kombu") or [] if 'extra == "redis"' in r]
        needed = {re.split(r"[<>=!~ \[]", r, maxsplit=1)[0].lower() for r in extra}
        pinned = {name.split("[")[0].lower() for name in pins(REPO / "requirements.txt")}
        assert needed and needed <= pinned, needed - pinned

    def test_docker_builds_leave_local_state_out(self):
        ignored = (REPO / ".dockerignore").read_text().split()
        assert {".git", ".venv", ".venv-runner", "var", "media", "staticfiles"} <= set(ignored)
