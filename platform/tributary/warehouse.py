"""The working warehouse as a Dagster resource, and short-lived connections to it.

DuckDB allows one writing process per file, and dbt runs in a subprocess: every Python asset
opens the file for the duration of its work only, never holding it across steps. Every asset
or check that asks for this resource (or for dlt or dbt, which write the same file) joins the
one ``warehouse`` pool: the root applies that once (``tributary/definitions.py``).

A second warehouse engine (PostgreSQL) is a second resource with the same methods, chosen by
configuration, not a second code path in the layers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

WAREHOUSE_POOL = "warehouse"  # the one Dagster concurrency pool of every warehouse writer
# Resources whose users read or write the working warehouse: each such step joins the pool.
WAREHOUSE_RESOURCES = frozenset({"warehouse", "dlt", "dbt"})


class Warehouse(dg.ConfigurableResource):
    """The working DuckDB file that dlt, dbt and every Python asset write."""

    path: str

    @property
    def file(self) -> Path:
        return Path(self.path)

    @property
    def name(self) -> str:
        """The catalog name DuckDB gives the file, as in ``dagster/table_name`` metadata."""
        return self.file.stem

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with connect(self.file, read_only=read_only) as con:
            yield con


@contextmanager
def connect(path: Path, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    try:
        yield con
    finally:
        con.close()


def ident(name: str) -> str:
    """A DuckDB identifier as SQL, always quoted (reserved words, spaces, quotes, any script):
    every name that reaches warehouse SQL goes through here, never pasted into the text."""
    return '"' + name.replace('"', '""') + '"'


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
