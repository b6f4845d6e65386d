"""The warehouse lock: writers in different processes take turns; a step's own connections
inside its hold do not wait for themselves; a wait too long names who holds the lock."""

import subprocess
import sys
import time

import pytest

from tributary.warehouse import Warehouse, WarehouseLockTimeout, current_holder, warehouse_lock

HOLD = """
import sys, time
from pathlib import Path
from tributary.warehouse import warehouse_lock
with warehouse_lock(Path(sys.argv[1]), holder="the other run"):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def hold(path, seconds: float) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_wait_too_long_names_the_holder_and_the_lock_file(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    other = hold(warehouse, 30)
    told = []
    try:
        with pytest.raises(WarehouseLockTimeout) as raised:
            with warehouse_lock(warehouse, timeout_s=0.5, log=told.append):
                pass
    finally:
        other.kill()
        other.wait()
    message = str(raised.value)
    assert f"{warehouse}.lock is held by the other run" in message
    assert "TRIBUTARY_WAREHOUSE_LOCK_TIMEOUT" in message
    assert told == [f"waiting for the warehouse ({warehouse}.lock is held by the other run)"]


def test_writers_take_turns_and_a_dead_holder_frees_the_lock(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    other = hold(warehouse, 1.5)
    start = time.monotonic()
    told = []
    with warehouse_lock(warehouse, timeout_s=60, log=told.append):
        waited = time.monotonic() - start
        assert current_holder(warehouse).startswith("pid ")  # now this process
    other.wait()
    assert waited > 0.5 and told[-1] == f"got the warehouse lock {warehouse}.lock"
    killed = hold(warehouse, 60)
    killed.kill()  # the operating system releases a dead process's lock
    killed.wait()
    with warehouse_lock(warehouse, timeout_s=5):
        pass


def test_connections_inside_a_hold_do_not_wait_for_it(tmp_path):
    resource = Warehouse(path=str(tmp_path / "warehouse.duckdb"), lock_timeout_s=1)
    with warehouse_lock(resource.file), resource.connect() as con:
        con.execute("create table t as select 1 as x")
        with resource.connect() as again:  # the same thread, nested: no wait
            assert again.execute("select x from t").fetchone() == (1,)
    assert current_holder(resource.file) == ""  # released, and the holder cleared
