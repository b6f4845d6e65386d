"""Short-lived connections to the working warehouse.

DuckDB allows one writing process per file, and dbt runs in a subprocess: every Python asset
opens the file for the duration of its work only, never holding it across steps.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb


@contextmanager
def connect(path: Path, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
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
    prefix = f'"{catalog}".' if catalog else ""
    return {
        f"{s}.{t}": con.execute(f'select count(*) from {prefix}"{s}"."{t}"').fetchone()[0]
        for s, t in tables
    }
