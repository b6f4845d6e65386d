"""Write-audit-publish: the snapshot is replaced in one step; readers never see an error."""

import threading

import duckdb
import pytest

from tributary.publish.snapshot import publish_snapshot
from tributary.warehouse import connect


def build_warehouse(path, version: int) -> None:
    with connect(path) as con:
        con.execute("create schema if not exists marts")
        con.execute("create schema if not exists ml")
        con.execute("create schema if not exists staging")
        con.execute(
            "create or replace table marts.fct_orders as "
            "select range as order_id, ? as version from range(1000)",
            [version],
        )
        con.execute("create or replace table ml.order_anomalies as select 1 as order_id")
        con.execute("create or replace table staging.not_published as select 1 as x")


def test_publish_copies_marts_and_ml_only(tmp_path):
    warehouse, snapshot = tmp_path / "w.duckdb", tmp_path / "analyst.duckdb"
    build_warehouse(warehouse, 1)
    counts = publish_snapshot(warehouse, snapshot)
    assert counts == {"marts.fct_orders": 1000, "ml.order_anomalies": 1}
    with duckdb.connect(str(snapshot), read_only=True) as con:
        tables = {
            r[0]
            for r in con.execute(
                "select table_schema || '.' || table_name from information_schema.tables"
            ).fetchall()
        }
    assert tables == {"marts.fct_orders", "ml.order_anomalies", "main.published_tables"}


def test_reader_holding_the_snapshot_sees_old_or_new_never_an_error(tmp_path):
    warehouse, snapshot = tmp_path / "w.duckdb", tmp_path / "analyst.duckdb"
    build_warehouse(warehouse, 1)
    publish_snapshot(warehouse, snapshot)
    held = duckdb.connect(str(snapshot), read_only=True)

    errors, seen = [], set()
    stop = threading.Event()

    def read_continuously() -> None:
        while not stop.is_set():
            try:
                with duckdb.connect(str(snapshot), read_only=True) as con:
                    versions = con.execute(
                        "select distinct version from marts.fct_orders"
                    ).fetchall()
                    assert len(versions) == 1  # never a mix of two publishes
                    seen.add(versions[0][0])
            except Exception as exc:  # noqa: BLE001 - any error is the failure we look for
                errors.append(repr(exc))

    reader = threading.Thread(target=read_continuously)
    reader.start()
    try:
        for version in range(2, 6):
            build_warehouse(warehouse, version)
            publish_snapshot(warehouse, snapshot)
    finally:
        stop.set()
        reader.join()
    assert errors == []
    assert seen and seen <= {1, 2, 3, 4, 5}
    # The connection opened before the publishes still reads the data it opened.
    assert held.execute("select distinct version from marts.fct_orders").fetchall() == [(1,)]
    held.close()
    with duckdb.connect(str(snapshot), read_only=True) as con:
        assert con.execute("select max(version) from marts.fct_orders").fetchone()[0] == 5
    previous = snapshot.with_suffix(".previous.duckdb")
    with duckdb.connect(str(previous), read_only=True) as con:
        assert con.execute("select max(version) from marts.fct_orders").fetchone()[0] == 4


def test_publish_refuses_when_a_required_table_is_missing(tmp_path):
    warehouse, snapshot = tmp_path / "w.duckdb", tmp_path / "analyst.duckdb"
    build_warehouse(warehouse, 1)
    publish_snapshot(warehouse, snapshot)
    with pytest.raises(LookupError, match="marts.dim_customer"):
        publish_snapshot(warehouse, snapshot, required=["marts.fct_orders", "marts.dim_customer"])
    with duckdb.connect(str(snapshot), read_only=True) as con:  # the old snapshot stands
        assert con.execute("select count(*) from marts.fct_orders").fetchone()[0] == 1000
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(LookupError, match="every table"):
        publish_snapshot(empty, tmp_path / "other.duckdb")
