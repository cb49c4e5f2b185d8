# evalsig developer commands. `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
# Use the active virtualenv when there is one, else create .venv.
ifdef VIRTUAL_ENV
PY := python
ENVDIR := $(VIRTUAL_ENV)
else
PY := $(VENV)/bin/python
ENVDIR := $(VENV)
endif
# One stamp per install set, redone when pyproject.toml changes.
RUNTIME := $(ENVDIR)/.evalsig-flows
STAMP := $(ENVDIR)/.evalsig-dev

export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: help install demo test lint pytest bench calibrate clean golden

help:
	@echo "make golden - regenerate the renderers' golden files (tests/golden/); review the diff"
	@echo "make demo   - install and run the gate flow on the bundled examples (no server needed)"
	@echo "make test   - install test dependencies and run lint, types and the whole test suite"
	@echo "make lint   - ruff and mypy only"
	@echo "make bench  - benchmarks, printing speed ratios measured side by side in one run"
	@echo "make up     - local stack on 127.0.0.1: Prefect server, SeaweedFS, served deployments, webhook"
	@echo "make down   - stop exactly the processes make up started (pidfiles in .stack/)"
	@echo "make calibrate - full calibration grid of auto (STATS.md), writes tests/stats/calibration.md"

$(PY):
	python3 -m venv $(VENV)

$(RUNTIME): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[flows]"
	touch $(RUNTIME)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[flows,dask,dev]"
	touch $(STAMP) $(RUNTIME)

install: $(STAMP)

demo: $(RUNTIME)
	$(PY) -m evalsig_flows.demo

lint: $(STAMP)
	$(PY) -m ruff check evalsig_core evalsig_flows tests deployments bench infra
	$(PY) -m mypy

pytest: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

test: lint pytest

golden: $(STAMP)
	EVALSIG_UPDATE_GOLDEN=1 $(PY) -m pytest -q tests/core/render/test_golden.py

bench: $(STAMP)
	$(PY) -m bench $(BENCH)

.PHONY: up down
up: $(STAMP)
	$(PY) infra/local/stack.py up

down:
	$(PY) infra/local/stack.py down

# Full calibration grid (340 cells and the ALLOW-level sweep), cells in parallel processes
# (--jobs, default the CPU count). Measured 78 min with --jobs 2 on 2 cores that two other
# jobs kept busy (load 6); an estimated 30 min alone. Most of it is the 28 balanced
# five-cluster cells, which enumerate all 7776 Webb vectors as auto does (80 s each alone).
# CAL_ARGS e.g. --replications 1000, or --only TEXT for the cells whose label contains TEXT
# (printed, never written over the table)
calibrate: $(STAMP)
	$(PY) -m tests.stats.calibration $(CAL_ARGS)

clean:
	rm -rf .evalsig-demo .pytest_cache .mypy_cache .ruff_cache
