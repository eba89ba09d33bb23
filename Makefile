# Layerwise. `make run` starts the embedded app; `make test` runs the whole suite.
# Both set up everything they need on a fresh machine.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
RUNNER_VENV := .venv-runner
PY := $(VENV)/bin/python
RUNNER_PY := $(RUNNER_VENV)/bin/python
PIP_FLAGS := -q --disable-pip-version-check $(if $(wildcard /opt/wheels),--find-links /opt/wheels)
HOST ?= 127.0.0.1
PORT ?= 8000

export RUNNER_PYTHON ?= $(CURDIR)/$(RUNNER_PY)

.PHONY: help run dev setup test test-fast bench lint format system-packages clean compose-check

help:
	@echo "make run    set up (virtualenvs, keys, database, roadmaps, demo accounts) and serve http://$(HOST):$(PORT)"
	@echo "            with gunicorn, DEBUG off (HOST=0.0.0.0 to listen beyond this machine)"
	@echo "make dev    the same with DEBUG on and Django's autoreloading server"
	@echo "make test   install what the tests need and run the whole suite"
	@echo "make bench  run the benchmark scripts and print their figures"
	@echo "make lint   ruff check and format check, import contracts (pyproject.toml)"
	@echo "make compose-check  build both images and run compose.yaml end to end with podman (root; minutes)"

# --- environments ------------------------------------------------------------------------

# requirements-dev.txt installs the command-line client (clients/python) editable, so a change to its
# pyproject.toml (a dependency, the console script) reinstalls too.
$(VENV)/.installed: requirements.txt requirements-dev.txt clients/python/pyproject.toml
	@py=$$(bin/find-python 3.12) || exit 1; \
	  [ -x $(PY) ] || { echo "Creating $(VENV) with $$py"; "$$py" -m venv $(VENV); }
	$(PY) -m pip install $(PIP_FLAGS) --upgrade pip
	$(PY) -m pip install $(PIP_FLAGS) -r requirements-dev.txt
	@touch $@

# The runner's own environment: torch and transformers, never imported by the web app.
$(RUNNER_VENV)/.installed: portfolio/runner/requirements.txt
	@py=$$(bin/find-python 3.11 exact 2>/dev/null || bin/find-python 3.11) || exit 1; \
	  [ -x $(RUNNER_PY) ] || { echo "Creating $(RUNNER_VENV) with $$py"; "$$py" -m venv $(RUNNER_VENV); }
	$(RUNNER_PY) -m pip install $(PIP_FLAGS) --upgrade pip
	$(RUNNER_PY) -m pip install $(PIP_FLAGS) -r portfolio/runner/requirements.txt
	@touch $@

venvs: $(VENV)/.installed $(RUNNER_VENV)/.installed

# Debian packages the sandbox and the test suite need (bubblewrap; servers for CI).
system-packages:
	@bin/system-packages

# --- the two commands ----------------------------------------------------------------------

# The keys come first: settings read var/secret-key when SECRET_KEY is not set.
setup: venvs
	@bin/system-packages bubblewrap
	@bin/generate-keys
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_roadmaps
	$(PY) manage.py seed_demo $(if $(filter 1,$(DEBUG)),,--allow-production)

run: setup
	$(PY) manage.py collectstatic --noinput -v 0
	HOST=$(HOST) PORT=$(PORT) bin/run-embedded

dev: export DEBUG = 1
dev: setup
	HOST=$(HOST) PORT=$(PORT) bin/run-embedded --dev

# axe-core for the browser tests' accessibility check (tests/browser/package.json, pinned in its lock).
tests/browser/node_modules/axe-core/axe.min.js: tests/browser/package.json tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

test: venvs system-packages tests/browser/node_modules/axe-core/axe.min.js
	DEBUG=1 LAYERWISE_REQUIRE_RUNNER=1 LAYERWISE_REQUIRE_BROWSER=1 bin/run-tests

test-fast: $(VENV)/.installed
	DEBUG=1 $(PY) -m pytest -q -m "not gpu and not browser and not slow" $(ARGS)

# On demand, not in CI (README.md, "Deployment"): the images, the stack, the journey, a restart and
# a killed runner, with podman; leaves the machine as it found it.
compose-check:
	bin/compose-check

bench: venvs
	$(PY) bench/run_all.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-logo --no-cache

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf var staticfiles test-artifacts
