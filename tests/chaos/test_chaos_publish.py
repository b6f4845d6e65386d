"""The snapshot analysts read: held open by a reader through a publish, and a publish killed
between building the new file and renaming it into place."""

import subprocess
import sys

import duckdb
from harness import Loader, count, readable

from tributary.publish.analyst_snapshot import publish_analyst_snapshot

READER = """
import duckdb, sys
con = duckdb.connect(sys.argv[1], read_only=True)
print(con.execute("select count(*) from marts.accounts").fetchone()[0], flush=True)
sys.stdin.readline()
print(con.execute("select count(*) from marts.accounts").fetchone()[0], flush=True)
"""


def build_marts(warehouse, rows: int) -> None:
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists marts")
        con.execute(
            "create or replace table marts.accounts as select range + 1 as id from range(?)", [rows]
        )


def test_reader_holds_the_snapshot_open_through_a_publish(settings, survived):
    build_marts(settings.warehouse, 100)
    publish_analyst_snapshot(settings.warehouse, settings.snapshot)
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(settings.snapshot)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert reader.stdout.readline().strip() == "100"
    build_marts(settings.warehouse, 150)
    publish_analyst_snapshot(settings.warehouse, settings.snapshot)
    out, _ = reader.communicate("\n", timeout=60)
    assert out.strip() == "100"  # the open reader kept its consistent, older snapshot
    readable(settings.snapshot)
    survived(
        "a reader holding the snapshot open through a publish",
        count(settings.snapshot, "marts.accounts", set(range(1, 151))),
    )


def test_publish_killed_before_the_rename(tmp_path, settings, survived):
    build_marts(settings.warehouse, 100)
    publish_analyst_snapshot(settings.warehouse, settings.snapshot)
    build_marts(settings.warehouse, 150)
    loader = Loader(None, settings, {}, "--publish", "--pause-at", "publish")
    assert loader.wait_paused() == "publish"
    loader.kill9()
    assert count(settings.snapshot, "marts.accounts", set(range(1, 101))).lost == 0  # the old one
    publish_analyst_snapshot(settings.warehouse, settings.snapshot)  # the re-run
    readable(settings.snapshot)
    survived(
        "kill -9 in publish, before the rename",
        count(settings.snapshot, "marts.accounts", set(range(1, 151))),
    )
