"""SQL database sources: tables, shards, custom queries or a whole database, loaded incrementally.

Any database SQLAlchemy reaches (PostgreSQL, MySQL/MariaDB, SQLite, …). Each target table is one
dlt resource reading Arrow batches (connectorx where the URL allows, else SQLAlchemy + pyarrow):
bounded memory, no per-row Python on the fast path. A table's first load, when it replaces the
table (an incremental table's first load, a ``load: replace`` table's first load), is streamed
into a DuckDB warehouse while it is read (``stream``); on PostgreSQL a plain table's first
load skips Arrow altogether, as CSV from COPY into DuckDB's own reader (``postgres_copy``).
Every other load goes through dlt's load files. A source file says, per table::

    sql_database:
      credentials: ${ERP_URL}
      backend: auto                       # connectorx for PostgreSQL/MySQL, else pyarrow
      discover: {include: ["*"], exclude: ["tmp_*"], incremental: updated_at}
      tables:
        - name: orders                    # target table in raw_<source>
          shards: "orders_[0-9][0-9][0-9][0-9]"   # or `table: ORDERS`, or `query: select …`
          primary_key: order_id
          incremental: updated_at         # cursor pushed down into SQL, kept in dlt state
          deleted_flag: is_deleted        # rows flagged at the source …
          deletes: hard                   # … are removed (hard) or kept flagged (soft)
          detect_deletes: true            # also find keys that vanished from the source
        - name: open_orders
          query: select order_id, status, updated_at from orders where status = 'open'
          primary_key: order_id
          incremental: updated_at         # the query's own cursor, on its result

A whole database is declared by ``discover`` patterns, but Dagster needs every asset when the
definitions load, which must not connect anywhere. So the patterns are resolved by a step a person
runs, ``tributary discover <source>`` (``discover.discover``): it writes the matching tables
into ``tables`` above, where they are reviewed and committed like any other change. Every run
re-lists the database and warns about new matching tables that are not declared yet.
"""

from collections.abc import Iterator
from itertools import chain
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from dlt.common import logger

from tributary.contracts.columns import declared_hints
from tributary.contracts.load_mode import write_disposition
from tributary.contracts.sql_database import (
    DELETED_COLUMN,
    SOURCE_TABLE_COLUMN,
    SqlDatabase,
    SqlTable,
    matching_tables,
)
from tributary.ingest.kinds.sql_database.cursor import Cursor
from tributary.ingest.kinds.sql_database.deletes import key_columns, vanished_rows
from tributary.ingest.kinds.sql_database.postgres_copy import (
    CopyUnreadable,
    copy_full_load,
    copy_plan,
)
from tributary.ingest.kinds.sql_database.read import (
    Backend,
    column_hints,
    column_of,
    partition_column,
    pick_backend,
    query_source,
    read_arrow,
    reflect,
)
from tributary.ingest.kinds.sql_database.stream import can_stream, stream_full_load


def sql_resources(db: SqlDatabase) -> list[Any]:
    """One dlt resource per target table; the first also reports undeclared new tables."""
    return [_sql_resource(db, table, report_new=i == 0) for i, table in enumerate(db.tables)]


def _sql_resource(db: SqlDatabase, table: SqlTable, report_new: bool) -> Any:
    """One target table; built at definition time too, so nothing here may connect."""

    @dlt.resource(
        name=table.name,
        primary_key=table.primary_key,
        write_disposition=write_disposition(table.mode),
        columns=_hints(table),
    )
    def read() -> Iterator[Any]:
        engine = sa.create_engine(db.credentials)
        try:
            yield from _read(engine, db, table, report_new)
        finally:
            engine.dispose()

    return read


def _hints(table: SqlTable) -> dict[str, Any]:
    """The declared column types, and the marker column's delete hint."""
    hints = declared_hints(table.columns)
    for name, hint in _marker_hints(table).items():
        hints[name] = hints.get(name, {}) | hint
    return hints


def _marker_hints(table: SqlTable) -> dict[str, Any]:
    """dlt's ``hard_delete`` hint on the marker column, so a merge removes marked rows."""
    marker = table.marker
    if marker is None:
        return {}
    hint: dict[str, Any] = {"name": marker, "hard_delete": table.deletes != "soft"}
    if marker == DELETED_COLUMN:
        hint["data_type"] = "bool"
    return {marker: hint}


def _read(engine: sa.Engine, db: SqlDatabase, table: SqlTable, report_new: bool) -> Iterator[Any]:
    """Rows of one target table since its cursor, then the rows whose key vanished.

    The first load of an incremental merge table reads every row, so it replaces the table
    instead: the same result as merging into an empty table, without dlt's staging copy and
    key deduplication (twice the work on a big table). Later runs merge. The first load of a
    table goes straight into a DuckDB warehouse while it is read (``stream``).
    """
    backend = pick_backend(db.backend, engine.url)
    if report_new:
        _report_undeclared(engine, db)
    sources = _sources(engine, db, table)
    columns = _with_boolean_flag(column_hints(sources[0][1]), table.deleted_flag)
    columns |= {name: columns.get(name, {}) | hint for name, hint in _hints(table).items()}
    cursor = (
        Cursor(dlt.current.resource_state(), table.incremental, table.initial_value)
        if table.incremental
        else None
    )
    replacing = cursor is not None and cursor.full and table.mode == "merge"
    streaming = (replacing or table.mode == "replace") and can_stream(table.name)
    hints: dict[str, Any] = {"columns": columns} if columns else {}
    if streaming:
        hints["write_disposition"] = "append"  # of zero rows: they are in place already
    elif replacing:
        hints["write_disposition"] = "replace"
    if hints:
        yield dlt.mark.with_hints([], dlt.mark.make_hints(**hints))
    key = key_columns(table.primary_key)
    copied = None
    if streaming and backend == "connectorx" and not table.shards:  # one source
        copied = copy_plan(engine, sources[0][1], columns, table.deleted_flag, table.incremental)
    if copied is not None:
        try:
            yield from copy_full_load(
                table.name, engine, sources[0][1], copied, db.readers, cursor, key
            )
        except CopyUnreadable as exc:
            logger.warning(f"table {table.name}: {exc}; loading it through Arrow instead")
            copied = None
    if copied is None:
        rows = _rows(engine, db, table, sources, columns, backend, cursor, key, replacing)
        try:
            yield from stream_full_load(table.name, rows) if streaming else rows
        finally:
            rows.close()  # a failed load must not leave a read (and its connection) open
    if cursor is not None:
        cursor.save()
    if table.detect_deletes and not replacing:
        keys = chain.from_iterable(
            read_arrow(
                engine,
                sa.select(*[column_of(source, k) for k in key]).select_from(source),
                backend,
                db.chunk_size,
                columns,
            )
            for _, source in sources
        )
        yield from vanished_rows(table.name, key, table.marker, table.deletes or "hard", keys)


def _rows(
    engine: sa.Engine,
    db: SqlDatabase,
    table: SqlTable,
    sources: list[tuple[str | None, sa.FromClause]],
    columns: dict[str, Any],
    backend: Backend,
    cursor: Cursor | None,
    key: list[str],
    replacing: bool,
) -> Iterator[pa.Table]:
    """The rows to load, as Arrow batches: past the cursor, flags read, shard names added."""
    drop_deleted = replacing and table.deleted_flag and table.deletes != "soft"
    for shard, source in sources:
        statement = _select_all(source)
        if cursor is not None and not cursor.full:
            statement = statement.where(column_of(source, cursor.column) >= cursor.start)
        split = partition_column(source, key, columns)
        split_on = None if split is None else column_of(source, split)
        reading = read_arrow(
            engine, statement, backend, db.chunk_size, columns, split_on, db.readers
        )
        for batch in reading:
            if not batch.num_rows:
                continue  # an empty read (nothing new) has nothing to admit
            if cursor is not None:
                batch = cursor.admit(batch, key)
            if table.deleted_flag:
                batch = _boolean_flag(batch, table.deleted_flag)
            if drop_deleted:
                batch = _without_deleted(batch, table.deleted_flag)
            if shard is not None:
                batch = batch.append_column(
                    SOURCE_TABLE_COLUMN,
                    pc.fill_null(pa.nulls(batch.num_rows, pa.string()), shard),
                )
            if batch.num_rows:
                yield batch


def _report_undeclared(engine: sa.Engine, db: SqlDatabase) -> None:
    """Warn about new tables matching ``discover``: Dagster learns of them only from the file."""
    if db.discover is None:
        return
    new = db.undeclared(sa.inspect(engine).get_table_names(schema=db.schema_))
    if new:
        logger.warning(
            f"{len(new)} table(s) match `discover` but are not declared yet: "
            f"{', '.join(new)}; run `tributary discover <source>` to load them"
        )


def _sources(
    engine: sa.Engine, db: SqlDatabase, table: SqlTable
) -> list[tuple[str | None, sa.FromClause]]:
    """(shard name or None, FROM item) for each source table of a target table."""
    if table.query:
        return [(None, query_source(table.query))]
    inspector = sa.inspect(engine)
    names = inspector.get_table_names(schema=db.schema_) + inspector.get_view_names(
        schema=db.schema_
    )
    names = matching_tables(names, table)
    if not names:
        raise LookupError(
            f"no table matches {table.shards or table.table or table.name!r} "
            f"in {engine.url.render_as_string(hide_password=True)}"
        )
    return [(n if table.shards else None, reflect(engine, n, db.schema_)) for n in names]


def _select_all(source: sa.FromClause) -> sa.Select[Any]:
    if isinstance(source, sa.Table):
        return sa.select(source)
    return sa.select(sa.text("*")).select_from(source)  # a query's columns are known only later


def _with_boolean_flag(columns: dict[str, Any], flag: str | None) -> dict[str, Any]:
    """Reflected hints with an integer flag column typed boolean (see ``_boolean_flag``)."""
    if flag in columns and columns[flag].get("data_type") == "bigint":
        return columns | {flag: {**columns[flag], "data_type": "bool"}}
    return columns


def _boolean_flag(batch: pa.Table, flag: str) -> pa.Table:
    """An integer flag read as a boolean (0 = alive): MySQL's BOOLEAN is TINYINT(1), and dlt's
    hard_delete would delete every row whose non-boolean flag is not null, zeros included."""
    if flag not in batch.column_names:
        raise LookupError(f"deleted_flag column {flag!r} is not in the rows read")
    values = batch[flag]
    if not pa.types.is_integer(values.type):
        return batch
    return batch.set_column(batch.column_names.index(flag), flag, pc.not_equal(values, 0))


def _without_deleted(batch: pa.Table, flag: str) -> pa.Table:
    """Rows not marked deleted, by dlt's hard_delete rule (true, or non-null if not boolean)."""
    values = batch[flag]
    if pa.types.is_boolean(values.type):
        return batch.filter(pc.invert(pc.fill_null(values, False)))
    return batch.filter(pc.is_null(values))
