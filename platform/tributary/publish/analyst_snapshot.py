"""The analyst snapshot file: copy what analysts read into a new file, then rename it into place.

Readers open only the snapshot, so a load never blocks them and they never see a half-built
warehouse; the previous snapshot is kept beside it for rollback.

Why the rename is atomic for readers (POSIX ``rename(2)``, which ``os.replace`` is): it swaps
the directory entry in one step, so opening the path yields either the old file or the new
one, never a partial one or nothing. A reader that already has the old file open keeps its
file descriptor on the old inode, which stays intact (the ``.previous`` hard link names it,
and the kernel frees it only after the last descriptor closes); DuckDB reads blocks through
that descriptor, so such a reader keeps seeing the old data until it reconnects. Renaming over
a file others hold open works on Linux and macOS; on Windows it fails (the files are locked).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from pathlib import Path

import dagster as dg
from duckdb import DuckDBPyConnection

from tributary.identifiers import ident
from tributary.warehouse import connect, table_counts

PUBLISHED_SCHEMAS = ("marts", "ml")

# main.published_tables, the snapshot's index of itself: its comments in the file and its
# column schema in the Dagster UI both come from here.
PUBLISHED_TABLES = "main.published_tables"
PUBLISHED_TABLES_DESCRIPTION = "What this snapshot holds: one row per published table."
PUBLISHED_TABLES_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn(
            "table_name", type="varchar", description="A published table, as schema.table."
        ),
        dg.TableColumn("row_count", type="integer", description="Its rows in this snapshot."),
        dg.TableColumn(
            "published_at",
            type="timestamp with time zone",
            description="When this snapshot was published.",
        ),
    ]
)


def _literal(text: str) -> str:
    # DuckDB's COMMENT ON takes no parameters: a quoted literal, quotes doubled.
    return "'" + text.replace("'", "''") + "'"


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def publish_analyst_snapshot(
    warehouse: Path, snapshot: Path, required: Sequence[str] = ()
) -> dict[str, int]:
    """Copy the published schemas into the analyst snapshot file ``snapshot``, atomically;
    return rows per table.

    Table and column comments (dbt's descriptions, via persist_docs) are copied too.
    Refuses, leaving the current snapshot as it is, when a ``required`` table is missing.
    """
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    # A name of its own: two publishes at once must not build into, or rename, each other's file.
    token = uuid.uuid4().hex[:12]
    new = snapshot.with_name(f"{snapshot.stem}.new-{token}{snapshot.suffix}")
    try:
        counts = _build(warehouse, new, required)
        if _wal(new).exists():  # never rename a file whose data is not all inside it
            raise RuntimeError(f"{new} was not checkpointed; nothing published")
    except BaseException:
        new.unlink(missing_ok=True)
        _wal(new).unlink(missing_ok=True)
        raise
    if snapshot.exists():
        # A hard link keeps the old file for rollback; linking under a temporary name and
        # renaming that over the old one means there is never a moment without a previous.
        previous = snapshot.with_suffix(".previous.duckdb")
        link = snapshot.with_name(f"{snapshot.stem}.previous-{token}{snapshot.suffix}")
        os.link(snapshot, link)
        os.replace(link, previous)
        link.unlink(missing_ok=True)  # still there if previous already was this very file
    # A WAL beside the snapshot belongs to the file being replaced (someone opened it
    # read-write): left there, every reader of the new file fails ("WAL does not match").
    _wal(snapshot).unlink(missing_ok=True)
    os.replace(new, snapshot)
    return counts


def _build(warehouse: Path, new: Path, required: Sequence[str]) -> dict[str, int]:
    """The new snapshot file: every published table, its comments, and its index."""
    with connect(new) as con:
        con.execute("attach ? as working (read_only)", [str(warehouse)])
        counts = table_counts(con, PUBLISHED_SCHEMAS, catalog="working")
        missing = sorted(set(required) - set(counts))
        if missing or not counts:
            raise LookupError(f"nothing published: missing {', '.join(missing) or 'every table'}")
        for name in counts:
            schema, table = map(ident, name.split(".", 1))
            con.execute(f"create schema if not exists {schema}")
            con.execute(f"create table {schema}.{table} as from working.{schema}.{table}")
        _copy_comments(con, list(counts))
        _write_index(con, counts)
        con.execute("detach working")
        con.execute("checkpoint")
    return counts


def _write_index(con: DuckDBPyConnection, counts: dict[str, int]) -> None:
    """main.published_tables, documented like the tables it lists."""
    con.execute(
        f"create table {PUBLISHED_TABLES} as "
        "select unnest(?) as table_name, unnest(?) as row_count, now() as published_at",
        [list(counts), list(counts.values())],
    )
    con.execute(f"comment on table {PUBLISHED_TABLES} is {_literal(PUBLISHED_TABLES_DESCRIPTION)}")
    for column in PUBLISHED_TABLES_SCHEMA.columns:
        target = f"{PUBLISHED_TABLES}.{ident(column.name)}"
        con.execute(f"comment on column {target} is {_literal(column.description or '')}")


def _copy_comments(con: DuckDBPyConnection, tables: list[str]) -> None:
    """CREATE TABLE AS drops comments: write the working tables' and columns' onto the copies."""
    found = con.execute(
        "select schema_name, table_name, null as column_name, comment from duckdb_tables() "
        "where database_name = 'working' and comment is not null "
        "union all "
        "select schema_name, table_name, column_name, comment from duckdb_columns() "
        "where database_name = 'working' and comment is not null"
    ).fetchall()
    for schema, table, column, comment in found:
        if f"{schema}.{table}" not in tables:
            continue
        target = f"{ident(schema)}.{ident(table)}"
        if column is None:
            con.execute(f"comment on table {target} is {_literal(comment)}")
        else:
            con.execute(f"comment on column {target}.{ident(column)} is {_literal(comment)}")
