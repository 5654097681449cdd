# The README's commands. Each target creates .venv on first use.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# The demo's and the command line's Prefect home; `make ui` keeps its own (.prefect-ui), the tests
# a temporary one (tests/conftest.py), so that neither writes into the other's database.
export PREFECT_HOME ?= $(CURDIR)/.prefect-home
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 120
export DO_NOT_TRACK := 1

.PHONY: demo test lint bench ui cluster cluster-down clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tenantsync demo

test: $(STAMP)
	$(BIN)/pytest -q -n 2 --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench.run

ui: $(STAMP)
	$(BIN)/python -m flows.ui

cluster: $(STAMP)
	$(BIN)/python -m flows.cluster up

cluster-down: $(STAMP)
	$(BIN)/python -m flows.cluster down

clean:
	rm -rf $(VENV) .prefect-home .prefect-ui data/state data/reports
