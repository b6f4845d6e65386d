"""The working warehouse as a Dagster resource, short-lived connections to it, and its lock.

DuckDB allows one process per file while any of them writes, and dbt runs in a subprocess:
every Python asset opens the file for the duration of its work only, never holding it across
steps. Every asset or check that asks for this resource (or for dlt or dbt, which write the
same file) joins the one ``warehouse`` pool and holds ``warehouse_lock`` while it runs: the
root applies both once (``tributary/definitions.py``). The pool keeps such steps from being
launched together where the instance enforces pools (the repo's ``dagster.yaml``); the lock,
an inter-process file lock beside the warehouse, serializes them whatever instance, executor
or process runs the code, so two runs never meet with "Conflicting lock is held".

A second warehouse engine (PostgreSQL) is a second resource with the same methods, chosen by
configuration, not a second code path in the layers.
"""

from __future__ import annotations

import fcntl
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb

from tributary.identifiers import ident
from tributary.settings import LOCK_TIMEOUT_S

WAREHOUSE_POOL = "warehouse"  # the one Dagster concurrency pool of every warehouse writer
# Resources whose users read or write the working warehouse: each such step joins the pool.
WAREHOUSE_RESOURCES = frozenset({"warehouse", "dlt", "dbt"})


class Warehouse(dg.ConfigurableResource):
    """The working DuckDB file that dlt, dbt and every Python asset write."""

    path: str
    lock_timeout_s: float = LOCK_TIMEOUT_S

    @property
    def file(self) -> Path:
        return Path(self.path)

    @property
    def name(self) -> str:
        """The catalog name DuckDB gives the file, as in ``dagster/table_name`` metadata."""
        return self.file.stem

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection while holding the warehouse lock (already held inside a step)."""
        with warehouse_lock(self.file, self.lock_timeout_s), connect(self.file, read_only) as con:
            yield con


@contextmanager
def connect(path: Path, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A plain connection: the analyst snapshot, files of one's own, or under the lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        yield con
    finally:
        con.close()


def table_counts(
    con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...], catalog: str | None = None
) -> dict[str, int]:
    """Row counts of every table in the given schemas, keyed ``schema.table``."""
    tables = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema in (select unnest(?)) and table_type = 'BASE TABLE' "
        "and table_catalog = coalesce(?, current_database()) order by 1, 2",
        [list(schemas), catalog],
    ).fetchall()
    prefix = f"{ident(catalog)}." if catalog else ""
    return {
        f"{s}.{t}": con.execute(f"select count(*) from {prefix}{ident(s)}.{ident(t)}").fetchone()[0]
        for s, t in tables
    }


class WarehouseLockTimeout(TimeoutError):
    """The warehouse lock was not free within the timeout."""


@dataclass
class _Held:
    """This process's hold on one lock file: threads queue on ``guard``; ``depth`` counts the
    nested holds of the thread inside (a step's connections within the step's own hold)."""

    guard: threading.RLock
    fd: int | None = None
    depth: int = 0


_held: dict[Path, _Held] = {}
_held_guard = threading.Lock()


def lock_file(warehouse: Path) -> Path:
    return warehouse.with_name(f"{warehouse.name}.lock")


def current_holder(warehouse: Path) -> str:
    """Who holds the warehouse lock, as its holder wrote it (empty when nobody does)."""
    try:
        return lock_file(warehouse).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""


@contextmanager
def warehouse_lock(
    warehouse: Path,
    timeout_s: float = LOCK_TIMEOUT_S,
    holder: str = "",
    log: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the inter-process lock on the working warehouse; re-entrant within a thread.

    Waits at most ``timeout_s`` seconds, saying once (through ``log``, else stderr) whom it
    waits for. The operating system releases the lock of a process that dies.
    """
    path = lock_file(warehouse)
    with _held_guard:
        held = _held.setdefault(path, _Held(guard=threading.RLock()))
    if not held.guard.acquire(timeout=timeout_s):
        raise WarehouseLockTimeout(f"{path}: another thread of this process kept it {timeout_s}s")
    try:
        if held.depth == 0:
            held.fd = _acquire(path, timeout_s, holder or _describe(), log or _stderr)
        held.depth += 1
        try:
            yield
        finally:
            held.depth -= 1
            if held.depth == 0 and held.fd is not None:
                os.ftruncate(held.fd, 0)
                fcntl.flock(held.fd, fcntl.LOCK_UN)
                os.close(held.fd)
                held.fd = None
    finally:
        held.guard.release()


def _acquire(path: Path, timeout_s: float, holder: str, log: Callable[[str], None]) -> int:
    """The lock file's descriptor, locked, with ``holder`` written into it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout_s
    waiting = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            other = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip() or "another process"
            if time.monotonic() >= deadline:
                os.close(fd)
                raise WarehouseLockTimeout(
                    f"the warehouse is still in use after {timeout_s:g}s: {path} is held by "
                    f"{other}; let it finish (or stop it), or raise "
                    "TRIBUTARY_WAREHOUSE_LOCK_TIMEOUT"
                ) from None
            if not waiting:
                log(f"waiting for the warehouse ({path} is held by {other})")
                waiting = True
            time.sleep(0.1)
    if waiting:
        log(f"got the warehouse lock {path}")
    os.ftruncate(fd, 0)
    os.pwrite(fd, holder.encode("utf-8"), 0)
    return fd


def _describe() -> str:
    """This process, and the Dagster step it runs, if any: what a waiting run is told."""
    where = f"pid {os.getpid()} on {socket.gethostname()}"
    try:
        context = dg.OpExecutionContext.get()
    except Exception:  # not inside a step
        context = None
    if context is None:
        return f"{where} ({' '.join(sys.argv[:2])})"
    return f"{where} (run {context.run_id[:8]}, step {context.op_handle})"


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
