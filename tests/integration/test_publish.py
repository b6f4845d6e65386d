"""Write-audit-publish: the snapshot is replaced in one step, whole, with its descriptions.

Readers in their own processes during publishes: see test_readers.py.
"""

import subprocess
import sys
import time

import duckdb
import pytest

from tributary.publish.analyst_snapshot import publish_analyst_snapshot
from tributary.warehouse import connect


def build_warehouse(path, version: int, rows: int = 1000) -> None:
    with connect(path) as con:
        con.execute("create schema if not exists marts")
        con.execute("create schema if not exists ml")
        con.execute("create schema if not exists staging")
        con.execute(
            "create or replace table marts.fct_orders as "
            "select range as order_id, ? as version from range(?)",
            [version, rows],
        )
        con.execute("create or replace table ml.order_anomalies as select 1 as order_id")
        con.execute("create or replace table staging.not_published as select 1 as x")


def files_beside(snapshot) -> list[str]:
    return sorted(p.name for p in snapshot.parent.iterdir())


def test_publish_copies_marts_and_ml_only(tmp_path):
    warehouse, snapshot = tmp_path / "w.duckdb", tmp_path / "analyst.duckdb"
    build_warehouse(warehouse, 1)
    counts = publish_analyst_snapshot(warehouse, snapshot)
    assert counts == {"marts.fct_orders": 1000, "ml.order_anomalies": 1}
    with duckdb.connect(str(snapshot), read_only=True) as con:
        tables = {
            r[0]
            for r in con.execute(
                "select table_schema || '.' || table_name from information_schema.tables"
            ).fetchall()
        }
    assert tables == {"marts.fct_orders", "ml.order_anomalies", "main.published_tables"}


def test_publish_carries_table_and_column_comments(tmp_path):
    """dbt writes descriptions as DuckDB comments (persist_docs); CREATE TABLE AS drops them."""
    warehouse, snapshot = tmp_path / "w.duckdb", tmp_path / "analyst.duckdb"
    build_warehouse(warehouse, 1)
    with connect(warehouse) as con:
        con.execute("""create table marts."it's odd" ("the customer's id" int, plain int)""")
        con.execute("""comment on table marts.fct_orders is 'One row per order; it''s "final".'""")
        con.execute("comment on column marts.fct_orders.order_id is 'ERP order number.'")
        con.execute("""comment on table marts."it's odd" is 'Quotes: '' and ".'""")
        con.execute(
            """comment on column marts."it's odd"."the customer's id" is 'Whose? It''s theirs.'"""
        )
        con.execute("comment on table staging.not_published is 'not for analysts'")
    publish_analyst_snapshot(warehouse, snapshot)
    with duckdb.connect(str(snapshot), read_only=True) as con:
        tables = con.execute(
            "select schema_name || '.' || table_name, comment from duckdb_tables() "
            "where comment is not null order by 1"
        ).fetchall()
        columns = con.execute(
            "select schema_name || '.' || table_name || '.' || column_name, comment "
            "from duckdb_columns() where comment is not null order by 1"
        ).fetchall()
    assert tables == [
        ("main.published_tables", "What this snapshot holds: one row per published table."),
        ("marts.fct_orders", """One row per order; it's "final"."""),
        ("marts.it's odd", """Quotes: ' and "."""),
    ]
    assert columns == [
        ("main.published_tables.published_at", "When this snapshot was published."),
        ("main.published_tables.row_count", "Its rows in this snapshot."),
        ("main.published_tables.table_name", "A published table, as schema.table."),
        ("marts.fct_orders.order_id", "ERP order number."),
        ("marts.it's odd.the customer's id", "Whose? It's theirs."),
    ]


# Opens the snapshot read-write, writes, and dies before DuckDB can checkpoint: its WAL stays.
CRASHED_WRITER = """
import os, sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("set checkpoint_threshold = '1GB'")
con.execute("create table main.my_notes as select 1 as x")
os._exit(0)
"""


def test_a_wal_left_beside_the_snapshot_does_not_break_the_next_one(tmp_path):
    """Regression: the WAL of the replaced file made every reader of the new one fail with
    'WAL does not match database file'."""
    warehouse, snapshot = tmp_path / "w.duckdb", tmp_path / "analyst.duckdb"
    build_warehouse(warehouse, 1)
    publish_analyst_snapshot(warehouse, snapshot)
    subprocess.run([sys.executable, "-c", CRASHED_WRITER, str(snapshot)], check=True)
    assert (tmp_path / "analyst.duckdb.wal").exists()
    build_warehouse(warehouse, 2)
    publish_analyst_snapshot(warehouse, snapshot)
    with duckdb.connect(str(snapshot), read_only=True) as con:
        assert con.execute("select distinct version from marts.fct_orders").fetchall() == [(2,)]
    with duckdb.connect(str(tmp_path / "analyst.previous.duckdb"), read_only=True) as con:
        assert con.execute("select distinct version from marts.fct_orders").fetchall() == [(1,)]
    assert files_beside(snapshot) == ["analyst.duckdb", "analyst.previous.duckdb", "w.duckdb"]


# argv: warehouse, snapshot, how many publishes, when to start (so both start together).
PUBLISHER = """
import sys, time
from pathlib import Path
from tributary.publish.analyst_snapshot import publish_analyst_snapshot

warehouse, snapshot, times, start = sys.argv[1:]
time.sleep(max(0.0, float(start) - time.time()))
for _ in range(int(times)):
    publish_analyst_snapshot(Path(warehouse), Path(snapshot))
"""


def test_concurrent_publishes_each_leave_a_whole_snapshot(tmp_path):
    """Regression: two publishes at once shared one staging file; one renamed the other's
    half-built file into place or failed (lock conflicts, FileNotFoundError, FileExistsError)."""
    data = tmp_path / "data"
    data.mkdir()
    snapshot = data / "analyst.duckdb"
    warehouses = {version: tmp_path / f"w{version}.duckdb" for version in (1, 2)}
    for version, warehouse in warehouses.items():
        build_warehouse(warehouse, version, rows=50_000 * version)
    start = str(time.time() + 2)
    publishers = [
        subprocess.Popen(
            [sys.executable, "-c", PUBLISHER, str(warehouse), str(snapshot), "10", start],
            stderr=subprocess.PIPE,
            text=True,
        )
        for warehouse in warehouses.values()
    ]
    errors = [p.communicate(timeout=120)[1] for p in publishers]
    assert [p.returncode for p in publishers] == [0, 0], errors
    for path in (snapshot, data / "analyst.previous.duckdb"):
        with duckdb.connect(str(path), read_only=True) as con:
            (version, rows, published), *others = con.execute(
                "select version, count(*), any_value(row_count) from marts.fct_orders, "
                "main.published_tables where table_name = 'marts.fct_orders' group by version"
            ).fetchall()
        assert others == []
        assert rows == published == 50_000 * version
    assert files_beside(snapshot) == ["analyst.duckdb", "analyst.previous.duckdb"]


def test_publish_refuses_when_a_required_table_is_missing(tmp_path):
    warehouse, snapshot = tmp_path / "w.duckdb", tmp_path / "analyst.duckdb"
    build_warehouse(warehouse, 1)
    publish_analyst_snapshot(warehouse, snapshot)
    with pytest.raises(LookupError, match="marts.dim_customer"):
        publish_analyst_snapshot(
            warehouse, snapshot, required=["marts.fct_orders", "marts.dim_customer"]
        )
    with duckdb.connect(str(snapshot), read_only=True) as con:  # the old snapshot stands
        assert con.execute("select count(*) from marts.fct_orders").fetchone()[0] == 1000
    assert files_beside(snapshot) == ["analyst.duckdb", "w.duckdb"]  # no staging file left
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(LookupError, match="every table"):
        publish_analyst_snapshot(empty, tmp_path / "other.duckdb")
    assert not (tmp_path / "other.duckdb").exists()
