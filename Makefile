# The entry points people type. Everything installs itself: only Python 3.11 and make needed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
UV := .tools/bin/uv
export DAGSTER_HOME := $(CURDIR)
export TRIBUTARY_DAGSTER_STORAGE := $(CURDIR)/data/dagster
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
export DO_NOT_TRACK := 1

.PHONY: demo dev test lint prepare install clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==0.13.8

# The locked environment (uv.lock): seconds, no resolver backtracking.
install: $(UV)
	$(UV) sync --frozen --quiet

# dbt's manifest, which the Dagster definitions are built from.
prepare: install
	cd dbt_project && ../$(VENV)/bin/dbt parse --quiet --profiles-dir .

demo: prepare
	mkdir -p data/dagster
	$(VENV)/bin/tributary validate
	$(VENV)/bin/tributary demo run

dev: prepare
	mkdir -p data/dagster
	$(VENV)/bin/tributary demo dev

test: prepare
	$(VENV)/bin/python -m pytest

lint: install
	$(VENV)/bin/ruff check platform tests
	$(VENV)/bin/ruff format --check platform tests

clean:
	rm -rf data dbt_project/target
