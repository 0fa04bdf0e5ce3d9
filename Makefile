# `make plan` and `make test` work on a fresh machine: each sets up what it needs first.
STACK ?= dev
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: plan test lint test-python typecheck test-workers clean

plan: $(VENV)/installed
	$(PY) -m tools.offline_plan --stack $(STACK) --json build/plan-$(STACK).json

test: lint test-python typecheck test-workers

lint: $(VENV)/installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test-python: $(VENV)/installed node_modules/installed
	$(PY) -m pytest

typecheck: $(VENV)/installed node_modules/installed
	npx --no-install pyright

test-workers: node_modules/installed
	npm run --silent test:workers

$(VENV)/installed: requirements.txt requirements-dev.txt systems/orchestrator/handlers/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

clean:
	rm -rf $(VENV) node_modules build
