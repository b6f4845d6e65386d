"""Readers in their own processes hold and query the snapshot while publishes replace it.

Issue 5: "a reader holding the snapshot open during a publish sees either the old or the new
data, never an error", and a reader never blocks a load. Each reader is a separate Python
process with its own read-only DuckDB connection, as an analyst's CLI, notebook or BI tool is.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from tributary.publish.analyst_snapshot import publish_analyst_snapshot
from tributary.warehouse import connect

PUBLISHES = 20  # versions 2..21 published after version 1
RECONNECTING_READERS = 4  # connect, query twice, close, again
ROWS_PER_VERSION = 100  # version v has v * 100 orders and v anomalies

# One statement, so one transaction: the data and the index of what was published.
QUERY = """
select
    (select count(*) from marts.fct_orders),
    (select min(version) from marts.fct_orders),
    (select max(version) from marts.fct_orders),
    (select sum(order_id * version) from marts.fct_orders),
    (select row_count from main.published_tables where table_name = 'marts.fct_orders'),
    (select count(*) from ml.order_anomalies),
    (select row_count from main.published_tables where table_name = 'ml.order_anomalies')
"""

# argv: snapshot, folder for signals and results, reader name, "reconnect" or "hold".
READER = """
import json, sys, traceback
from pathlib import Path
import duckdb

snapshot, folder, name, mode = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]
query = (folder / "query.sql").read_text()
stop, reconnect = folder / "stop", folder / "reconnect"
reads, errors, after_reconnect = [], [], None

def read(con):
    return list(con.execute(query).fetchone())

def attempt(step):  # an error is recorded and the reader carries on
    try:
        return step()
    except Exception:
        errors.append(traceback.format_exc())

def read_twice():  # two queries on one connection must agree
    with duckdb.connect(snapshot, read_only=True) as con:
        first, second = read(con), read(con)
    if first != second:
        errors.append(f"one connection changed its mind: {first} then {second}")
    reads.append(first)

if mode == "hold":  # opened before the first publish, kept open across all of them
    con = duckdb.connect(snapshot, read_only=True)
    reads.append(read(con))
    (folder / f"{name}.ready").touch()
    while not reconnect.exists():
        attempt(lambda: reads.append(read(con)))
    con.close()
    with duckdb.connect(snapshot, read_only=True) as con:
        after_reconnect = read(con)
else:
    while not stop.exists():
        attempt(read_twice)
        (folder / f"{name}.ready").touch()
result = {"reads": reads, "errors": errors, "after_reconnect": after_reconnect}
(folder / f"{name}.json").write_text(json.dumps(result))
"""


def build_warehouse(path: Path, version: int) -> None:
    with connect(path) as con:
        con.execute("create schema if not exists marts")
        con.execute("create schema if not exists ml")
        con.execute(
            "create or replace table marts.fct_orders as "
            "select range as order_id, ? as version from range(?)",
            [version, version * ROWS_PER_VERSION],
        )
        con.execute(
            "create or replace table ml.order_anomalies as select range as order_id from range(?)",
            [version],
        )


def expected(version: int) -> list[int]:
    rows = version * ROWS_PER_VERSION
    return [rows, version, version, version * rows * (rows - 1) // 2, rows, version, version]


def wait_for(paths: list[Path], procs: list[subprocess.Popen], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not all(p.exists() for p in paths):
        assert all(p.poll() is None for p in procs), "a reader died while starting"
        assert time.monotonic() < deadline, "readers did not start"
        time.sleep(0.05)


def test_readers_see_old_or_new_never_an_error_and_never_block_a_publish(tmp_path):
    data, folder = tmp_path / "data", tmp_path / "readers"
    data.mkdir()
    folder.mkdir()
    warehouse, snapshot = data / "warehouse.duckdb", data / "analyst.duckdb"
    (folder / "query.sql").write_text(QUERY)
    build_warehouse(warehouse, 1)
    publish_analyst_snapshot(warehouse, snapshot)

    names = ["held"] + [f"reader{i}" for i in range(RECONNECTING_READERS)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", READER, str(snapshot), str(folder), name, mode],
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, mode in zip(names, ["hold"] + ["reconnect"] * RECONNECTING_READERS, strict=True)
    ]
    try:
        wait_for([folder / f"{name}.ready" for name in names], procs)
        last = PUBLISHES + 1
        for version in range(2, last + 1):
            # The load writes the working warehouse while readers are busy: they never open
            # it, so nothing they do can hold its lock and block the write.
            build_warehouse(warehouse, version)
            # Every reader, the held one included, has the snapshot open during each publish.
            assert all(p.poll() is None for p in procs), "a reader exited during the publishes"
            publish_analyst_snapshot(warehouse, snapshot)
            time.sleep(0.02)  # let readers catch most versions
        (folder / "reconnect").touch()
        time.sleep(0.3)  # a few more reads of the newest version
        (folder / "stop").touch()
        stderr = [p.communicate(timeout=60)[1] for p in procs]
    finally:
        for p in procs:  # only on failure: the readers we started
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0] * len(procs), stderr

    results = {name: json.loads((folder / f"{name}.json").read_text()) for name in names}
    published = {version: expected(version) for version in range(1, last + 1)}
    seen: set[int] = set()
    assert {name: r["errors"][:3] for name, r in results.items() if r["errors"]} == {}
    for name, result in results.items():
        assert result["reads"], name
        for read in result["reads"]:  # exactly one published version, consistent within itself
            assert read in published.values(), (name, read)
        versions = [read[1] for read in result["reads"]]
        assert versions == sorted(versions), f"{name} went back to an older snapshot"
        seen.update(versions)

    held = results["held"]
    # The connection opened before the publishes kept reading what it opened...
    assert {read[1] for read in held["reads"]} == {1}
    assert len(held["reads"]) > 1
    # ...and a new connection sees the newest publish.
    assert held["after_reconnect"] == published[last]
    assert any(read[1] == last for r in results.values() for read in r["reads"])
    assert len(seen) >= 3, f"readers saw too few versions to prove anything: {sorted(seen)}"
    connections = sum(len(r["reads"]) for name, r in results.items() if name != "held")
    print(
        f"\n{PUBLISHES} publishes; {len(procs)} reader processes: {len(held['reads'])} queries "
        f"on the held connection, {connections} connections x 2 queries by the others; "
        f"{len(seen)} of {last} versions seen"
    )

    # The previous snapshot, kept for rollback, is whole and opens.
    with duckdb.connect(str(data / "analyst.previous.duckdb"), read_only=True) as con:
        assert list(con.execute(QUERY).fetchone()) == published[last - 1]
    # Nothing else is left beside the snapshot: no staging file, no WAL.
    assert sorted(p.name for p in data.iterdir()) == [
        "analyst.duckdb",
        "analyst.previous.duckdb",
        "warehouse.duckdb",
    ]


def test_one_process_sees_a_new_publish_only_after_closing_every_connection(tmp_path):
    """DuckDB shares one open database per file within a process: a new connection made
    while another to the same snapshot is still open sees the old data. A long-running
    reader (a notebook, the Data API) must close all its connections to see a publish."""
    warehouse, snapshot = tmp_path / "w.duckdb", tmp_path / "analyst.duckdb"
    build_warehouse(warehouse, 1)
    publish_analyst_snapshot(warehouse, snapshot)
    held = duckdb.connect(str(snapshot), read_only=True)
    build_warehouse(warehouse, 2)
    publish_analyst_snapshot(warehouse, snapshot)
    with duckdb.connect(str(snapshot), read_only=True) as con:
        assert list(con.execute(QUERY).fetchone()) == expected(1)
    held.close()
    with duckdb.connect(str(snapshot), read_only=True) as con:
        assert list(con.execute(QUERY).fetchone()) == expected(2)
