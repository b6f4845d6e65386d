"""The analyst snapshot as the API reads it: whichever file the path names when a request starts.

Publish renames a new file over the path (``publish/analyst_snapshot.py``). DuckDB caches open
databases by path within a process, so ``duckdb.connect(path)`` while an old connection is open
would keep returning the old file. Each file (device, inode) therefore gets its own in-memory
DuckDB that ATTACHes it read-only: a request takes a cursor on the generation current when it
starts and keeps it to the end, so running requests finish on the old file, new ones see the
new, and no request mixes two. An old generation closes when its last request ends.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

CATALOG = "snap"


class _Generation:
    def __init__(self, path: Path, identity: tuple[int, int]):
        self.identity = identity
        self.users = 0
        self.con = duckdb.connect(config={"threads": 2})
        self.con.execute(f"attach ? as {CATALOG} (read_only)", [str(path)])
        self.version = _version(self.con)


def _version(con: duckdb.DuckDBPyConnection) -> str:
    """When the file was published (its index, ``main.published_tables``), else its identity."""
    found = con.execute(
        "select count(*) from duckdb_tables() where database_name = ? and schema_name = 'main' "
        "and table_name = 'published_tables'",
        [CATALOG],
    ).fetchone()[0]
    if not found:
        return ""
    query = f"select max(published_at) from {CATALOG}.main.published_tables"
    published = con.execute(query).fetchone()[0]
    return published.isoformat() if published else ""


class QueryTimeout(Exception):
    pass


class NoSnapshot(Exception):
    """Nothing published yet: the server runs, and answers 503 until a publish."""


@dataclass(frozen=True)
class Reading:
    con: duckdb.DuckDBPyConnection  # a cursor of its own
    version: str  # when this file was published: cursors carry it

    def fetch(self, sql: str, params: list, seconds: float) -> tuple[list[str], list[tuple]]:
        """Column names and rows, or QueryTimeout when it runs past ``seconds`` (interrupted)."""
        timer = threading.Timer(seconds, self.con.interrupt)
        timer.start()
        try:
            result = self.con.execute(sql, params)
            return [d[0] for d in result.description], result.fetchall()
        except duckdb.InterruptException:
            raise QueryTimeout(f"stopped after {seconds:g} s") from None
        finally:
            timer.cancel()


class Snapshot:
    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._current: _Generation | None = None

    def _identity(self) -> tuple[int, int]:
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            raise NoSnapshot(f"{self.path.name}: nothing published yet") from None
        return found.st_dev, found.st_ino

    def _take(self) -> _Generation:
        with self._lock:
            identity = self._identity()
            if self._current is None or self._current.identity != identity:
                previous, self._current = self._current, _Generation(self.path, identity)
                if previous is not None and previous.users == 0:
                    previous.con.close()
            self._current.users += 1
            return self._current

    def _give_back(self, generation: _Generation) -> None:
        with self._lock:
            generation.users -= 1
            if generation is not self._current and generation.users == 0:
                generation.con.close()

    @contextmanager
    def cursor(self) -> Iterator[Reading]:
        """A cursor on the snapshot file current now, for one request."""
        generation = self._take()
        cursor = generation.con.cursor()
        try:
            yield Reading(cursor, generation.version)
        finally:
            cursor.close()
            self._give_back(generation)

    def close(self) -> None:
        with self._lock:
            if self._current is not None and self._current.users == 0:
                self._current.con.close()
            self._current = None
