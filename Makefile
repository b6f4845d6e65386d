# The entry points people type. Everything installs itself: only Python 3.11 and make needed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
UV := .tools/bin/uv
# The Dagster instance: history under data/dagster, settings from dagster.yaml (linked there).
export DAGSTER_HOME := $(CURDIR)/data/dagster
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)
export DO_NOT_TRACK := 1

.PHONY: demo dev test lint prepare install clean chaos

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==0.13.8

# The locked environment (uv.lock): seconds, no resolver backtracking. Bytecode compiled at
# install: where PYTHONDONTWRITEBYTECODE is set, every command otherwise compiles each module
# it imports from source, every time (`tributary validate` took 3.8 s instead of 1.8 s here).
install: $(UV)
	$(UV) sync --frozen --quiet --compile-bytecode
	$(VENV)/bin/python -m compileall -q platform > /dev/null

# dbt's manifest, which the Dagster definitions are built from.
prepare: install
	cd dbt_project && ../$(VENV)/bin/dbt parse --quiet --profiles-dir .

$(DAGSTER_HOME)/dagster.yaml:
	mkdir -p $(DAGSTER_HOME)
	ln -sfn $(CURDIR)/dagster.yaml $@

demo: prepare $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/tributary validate
	$(VENV)/bin/tributary demo run

dev: prepare $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/tributary demo dev

test: prepare
	$(VENV)/bin/python -m pytest

# The fault matrix (kill -9 in each stage, a flaky API, expiring tokens, a full disk, …), the
# secrets grep and the hostile-declaration corpus; its last line is the summary
# (docs/reliability.md). About four minutes; needs the PostgreSQL service.
chaos: prepare
	$(VENV)/bin/python tests/chaos/run.py

lint: install
	$(VENV)/bin/ruff check platform tests
	$(VENV)/bin/ruff format --check platform tests
	$(VENV)/bin/lint-imports
	$(VENV)/bin/tributary validate
	$(VENV)/bin/tributary schema --check
	$(VENV)/bin/tributary generate --check

clean:
	rm -rf data dbt_project/target

# TPC-H lineitem PostgreSQL -> DuckDB: Tributary beside the postgres scanner, connectorx, dlt and
# Sling (bench/ingest.py). SF=0.1 for a quick run. The scanner cannot load in duckdb 2.0 offline,
# so it runs from its own virtualenv under .tools/ (duckdb 1.5.5 and its extension wheel, plus the
# DuckDB CLI Sling writes through). Never part of `make test`.
SF ?= 1
BENCH_SCANNER := .tools/bench-scanner
.PHONY: bench-ingest
bench-ingest: $(UV)
	$(UV) sync --frozen --quiet --group bench
	test -x $(BENCH_SCANNER)/bin/python || $(UV) venv --quiet --python 3.11 $(BENCH_SCANNER)
	$(UV) pip install --quiet --python $(BENCH_SCANNER)/bin/python \
		duckdb==1.5.5 duckdb-extension-postgres==1.5.5 duckdb-cli==1.5.6
	SLING_BINARY=$(VENV)/lib/python3.11/site-packages/sling_linux_amd64/bin/sling-linux-amd64 \
		$(VENV)/bin/python bench/ingest.py --sf $(SF) --scanner-python $(BENCH_SCANNER)/bin/python

# How long `tributary --help` and `tributary validate` take to start, beside `import dagster`
# (bench/startup.py, best of N runs). Never part of `make test`.
N ?= 5
.PHONY: bench-startup
bench-startup: install
	$(VENV)/bin/python bench/startup.py --repeat $(N)

# The Data API beside Datasette on the same rows (bench/api.py): requests per second and p50/p99
# for paging and a filtered query, 1 and 16 clients, then the attacks. Never part of `make test`.
ROWS ?= 20000
SECONDS ?= 5
.PHONY: bench-api
bench-api: $(UV)
	$(UV) sync --frozen --quiet --group bench
	$(VENV)/bin/python bench/api.py --rows $(ROWS) --seconds $(SECONDS)
