# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TYPED := config core connectors router crm_sink operator_console widget simulator tests $(wildcard bench)

.PHONY: run test install install-test node test-deps lint unit bench bench-stats bench-whatif clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

# The console's front-end libraries (package-lock.json), installed again only when the lock
# file changes; `npm ci` empties node_modules first, so the stamp inside goes with it.
NODE_STAMP := node_modules/.installed

$(NODE_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

install: $(VENV)/.installed

node: $(NODE_STAMP)

install-test: $(VENV)/.installed-test

## Set everything up and start the hub on the embedded default (SQLite + its own Redis).
run: install node
	$(BIN)/openlines run

## System packages the tests start real servers from (apt; needs root or sudo).
test-deps:
	bash scripts/install-test-deps.sh

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(TYPED)

## Install what the tests need and run the whole suite.
test: test-deps install-test node lint
	$(BIN)/pytest -q

## The tests that start no server (marked `pure` by tests/conftest.py).
unit: install-test
	$(BIN)/pytest -q -m pure

bench: install-test
	$(BIN)/python -m bench.e2e_webchat

# 1 M dialogs and 10 M messages on SQLite and PostgreSQL; DIALOGS=20000 for a smaller run.
DIALOGS ?= 1000000
bench-stats: install-test
	$(BIN)/python -m bench.stats_reports --dialogs $(DIALOGS)

clean:
	rm -rf $(VENV) var node_modules .mypy_cache .ruff_cache .pytest_cache

# The routing what-if: a generated week of 10 000 dialogs, current setup against a proposal.
bench-whatif: install-test
	$(BIN)/python -m bench.whatif
