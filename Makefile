# `make plan` and `make test` work on a fresh machine: each sets up what it needs first.
STACK ?= dev
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

# Each lock (output, hashes of every package) and the human-edited list it is compiled from.
# Lambda locks are for Lambda's Python, on any architecture; the others for the program's Python.
FUNCTION_LOCKS := systems/orchestrator/requirements/discord.txt systems/orchestrator/requirements/worker.txt systems/orchestrator/requirements/error_tracking.txt
# `make lock LOCK_FLAGS=--upgrade` moves every unpinned dependency to its newest release.
LOCK_FLAGS ?=
COMPILE = $(VENV)/bin/uv pip compile --quiet --universal --generate-hashes --custom-compile-command "make lock" $(LOCK_FLAGS)

.PHONY: plan test lint test-python typecheck test-workers lock clean

plan: $(VENV)/installed node_modules/installed
	$(PY) -m tools.offline_plan --stack $(STACK) --json build/plan-$(STACK).json

test: lint test-python typecheck test-workers

lint: $(VENV)/installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The project's modules are compiled first (half a second), so the suite's many fresh interpreters
# (offline plans, the tools the workflow steps run) load them compiled, even where the environment
# says not to write bytecode (PYTHONDONTWRITEBYTECODE).
test-python: $(VENV)/installed node_modules/installed
	$(PY) -m compileall -q -x '/(\.venv|node_modules|build|\.git)/' .
	$(PY) -m pytest

typecheck: $(VENV)/installed node_modules/installed
	npx --no-install pyright

test-workers: node_modules/installed
	npm run --silent test:workers

# The dev lock holds every package the program, the functions and the tools need; each is
# installed exactly as locked, checked by hash, and nothing is resolved here.
$(VENV)/installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements-dev.txt
	touch $@

# The dev lock is compiled last: it is held to the versions the other locks pin.
lock: $(VENV)/installed
	$(COMPILE) --python-version 3.11 requirements.in -o requirements.txt
	for lock in $(FUNCTION_LOCKS); do $(COMPILE) --python-version 3.12 "$${lock%.txt}.in" -o "$$lock" || exit 1; done
	$(COMPILE) --python-version 3.11 requirements-dev.in -o requirements-dev.txt

node_modules/installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

clean:
	rm -rf $(VENV) node_modules build
