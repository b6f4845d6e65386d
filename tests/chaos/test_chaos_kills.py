"""kill -9 of the load process inside each stage, then the re-run: nothing lost, nothing doubled.

Each source has a keyed table (merged on its key) and an incremental one without a key
(appended past its cursor, the one a re-run could double). The killed run is a process of its
own (``loader.py``), paused inside the stage and killed there by the test.
"""

from pathlib import Path
from typing import Any

import pytest
from harness import SQL_ROWS, count, killed_at, readable, rerun, source_file, total
from rest_zoo import RestZoo

STAGES = ["extract", "normalize", "load", "complete"]
# extract: the third batch; load: both tables' jobs committed in DuckDB, neither marked done.
AFTER = {"extract": 3, "normalize": 1, "load": 2, "complete": 1}
RECORDS = 40

REST = """
client:
  base_url: ${ZOO_URL}
  retries: 0
  paginator: {type: page_number, base_page: 1, total_path: meta.total_pages}
resources:
  - name: items
    primary_key: id
    endpoint: {path: pages, data_selector: data, params: {page_size: 5}}
  - name: events
    endpoint:
      path: pages
      data_selector: data
      params: {page_size: 5}
      incremental:
        start_param: updated_since
        cursor_path: updated_at
        initial_value: "2024-01-01T00:00:00Z"
"""


@pytest.mark.parametrize("stage", STAGES)
def test_rest_source_killed_in_each_stage(stage, tmp_path, settings, survived):
    spec = source_file(tmp_path, "zoo", "rest_api", REST)
    with RestZoo(RECORDS) as zoo:
        killed_at(stage, spec, settings, zoo.env, after=AFTER[stage])
        rerun(spec, settings, zoo.env)
        rerun(spec, settings, zoo.env)  # and the next scheduled run
    expected = set(range(1, RECORDS + 1))
    counts = [count(settings.warehouse, f"raw_zoo.{t}", expected) for t in ("items", "events")]
    assert {"raw_zoo.items", "raw_zoo.events"} <= set(readable(settings.warehouse))
    survived(f"kill -9 in {stage}: REST", total(counts))


FILES = """
bucket_url: ${EXPORTS}
tables:
  - {name: accounts, glob: "accounts_*.csv", primary_key: id}
  - {name: lines, glob: "lines_*.csv"}
"""


def export(folder: Path, name: str, ids: range) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("id,name\n" + "".join(f"{i},row {i}\n" for i in ids))


@pytest.mark.parametrize("stage", STAGES)
def test_file_source_killed_in_each_stage(stage, tmp_path, settings, survived):
    folder = tmp_path / "exports"
    for n in range(4):  # four deliveries of each table, ten rows each
        export(folder, f"accounts_{n}.csv", range(n * 10 + 1, n * 10 + 11))
        export(folder, f"lines_{n}.csv", range(n * 10 + 1, n * 10 + 11))
    source = source_file(tmp_path, "exports", "filesystem", FILES)
    env = {"EXPORTS": str(folder)}
    killed_at(stage, source, settings, env, after=AFTER[stage])
    rerun(source, settings, env)
    rerun(source, settings, env)
    expected = set(range(1, RECORDS + 1))
    counts = [
        count(settings.warehouse, f"raw_exports.{t}", expected) for t in ("accounts", "lines")
    ]
    readable(settings.warehouse)
    survived(f"kill -9 in {stage}: file", total(counts))


def sql_source(tmp_path: Path, schema: str) -> Any:
    return source_file(
        tmp_path,
        "ledger",
        "sql_database",
        f"""
        credentials: ${{LEDGER_URL}}
        schema: {schema}
        backend: pyarrow
        chunk_size: 200
        tables:
          - {{name: accounts, primary_key: id}}
          - {{name: entries, table: accounts, incremental: updated_at}}
        """,
    )


@pytest.mark.parametrize("stage", STAGES)
def test_sql_source_killed_in_each_stage(stage, tmp_path, settings, pg_schema, survived):
    url, schema, _ = pg_schema
    source = sql_source(tmp_path, schema)
    env = {"LEDGER_URL": url}
    killed_at(stage, source, settings, env, after=AFTER[stage])
    rerun(source, settings, env)
    rerun(source, settings, env)
    expected = set(range(1, SQL_ROWS + 1))
    counts = [
        count(settings.warehouse, f"raw_ledger.{t}", expected) for t in ("accounts", "entries")
    ]
    readable(settings.warehouse)
    survived(f"kill -9 in {stage}: SQL (PostgreSQL)", total(counts))
