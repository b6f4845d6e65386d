"""SQL database sources: tables, shards, custom queries or a whole database, loaded incrementally.

Any database SQLAlchemy reaches (PostgreSQL, MySQL/MariaDB, SQLite, …). Each target table is one
dlt resource reading Arrow batches (connectorx where the URL allows, else SQLAlchemy + pyarrow):
bounded memory, no per-row Python on the fast path. A table's first load, when it replaces the
table (an incremental table's first load, a ``load: replace`` table's first load), is streamed
into a DuckDB warehouse while it is read (``sql_stream``); on PostgreSQL a plain table's first
load skips Arrow altogether, as CSV from COPY into DuckDB's own reader (``sql_copy``). Every other
load goes through dlt's load files. A source file says, per table::

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
runs, ``tributary discover <source>`` (``sql_discover.discover``): it writes the matching tables
into ``tables`` above, where they are reviewed and committed like any other change. Every run
re-lists the database and warns about new matching tables that are not declared yet.
"""

from collections.abc import Iterator
from fnmatch import fnmatchcase
from itertools import chain
from typing import Any, Literal

import dlt
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from dlt.common import logger
from pydantic import Field, ValidationInfo, field_validator, model_validator

from tributary.ingest.load import LoadMode, write_disposition
from tributary.ingest.sql_copy import CopyUnreadable, copy_full_load, copy_plan
from tributary.ingest.sql_cursor import Cursor
from tributary.ingest.sql_deletes import DELETED_COLUMN, DeleteMode, key_columns, vanished_rows
from tributary.ingest.sql_read import (
    Backend,
    column_hints,
    column_of,
    partition_column,
    pick_backend,
    query_source,
    read_arrow,
    reflect,
)
from tributary.ingest.sql_stream import can_stream, stream_full_load
from tributary.specfile import NAME_PATTERN, Strict

SOURCE_TABLE_COLUMN = "_source_table"  # which shard a row came from


class SqlTable(Strict):
    """One target table: a source table, same-shaped shards unioned into one, or a query."""

    name: str = Field(pattern=NAME_PATTERN, description="Target table name in raw_<source>.")
    table: str | None = Field(None, description="Source table; defaults to `name`.")
    shards: str | None = Field(
        None,
        description="Glob of same-shaped source tables (e.g. `orders_[0-9]*`) loaded into one "
        "table; column `_source_table` says where each row came from.",
    )
    query: str | None = Field(
        None, description="A SELECT whose result is the table; `incremental` filters its result."
    )
    primary_key: str | list[str] | None = None
    incremental: str | None = Field(None, description="Cursor column (e.g. `updated_at`).")
    initial_value: Any = None
    load: LoadMode | None = Field(
        None, description="append, replace, merge or scd2; merge when a primary_key is given."
    )
    deleted_flag: str | None = Field(
        None,
        description="Source column marking deleted rows: true, or any non-null value for "
        "non-boolean columns (e.g. `deleted_at`).",
    )
    deletes: DeleteMode | None = Field(
        None, description="hard (default): deleted rows are removed; soft: kept and flagged."
    )
    detect_deletes: bool = Field(
        False,
        description="Compare the source's keys with the warehouse's each run and remove or flag "
        f"rows whose key vanished (in `deleted_flag`, else in `{DELETED_COLUMN}`).",
    )

    @property
    def mode(self) -> LoadMode:
        return self.load or ("merge" if self.primary_key else "append")

    @property
    def marker(self) -> str | None:
        """The column that marks deleted rows, if deletes are handled at all."""
        return self.deleted_flag or (DELETED_COLUMN if self.detect_deletes else None)

    @model_validator(mode="after")
    def _consistent(self) -> "SqlTable":
        given = [k for k in ("table", "shards", "query") if getattr(self, k)]
        if len(given) > 1:
            raise ValueError(f"give one of `table`, `shards` or `query`, not {' and '.join(given)}")
        write_disposition(self.load, self.primary_key)  # merge without a key is an error
        if self.initial_value is not None and not self.incremental:
            raise ValueError("`initial_value` needs `incremental` (the cursor column it starts)")
        if self.incremental and self.mode == "replace":
            raise ValueError(
                "load: replace reloads every row each run, so `incremental` would drop every row "
                "that did not change: remove one of them"
            )
        if self.incremental and self.mode == "scd2":
            raise ValueError(
                "load: scd2 compares whole extracts and retires rows missing from one, so with "
                "`incremental` every unchanged row would be retired: remove `incremental`"
            )
        if self.deletes and not (self.deleted_flag or self.detect_deletes):
            raise ValueError(
                "`deletes` says what happens to deleted rows: add `deleted_flag` or "
                "`detect_deletes: true`"
            )
        if self.marker and self.mode != "merge":
            raise ValueError(
                f"deleted rows are removed or flagged by a merge, but this table loads by "
                f"{self.mode}: give a `primary_key` and no other `load`"
            )
        return self


class Discover(Strict):
    """Which tables of a whole database to load; resolved by ``tributary discover <source>``."""

    include: list[str] = Field(["*"], description="Globs over source table names.")
    exclude: list[str] = Field([], description="Globs of tables to leave out.")
    incremental: str | None = Field(
        None, description="Cursor column given to each discovered table that has it."
    )

    def matches(self, name: str) -> bool:
        return any(fnmatchcase(name, p) for p in self.include) and not any(
            fnmatchcase(name, p) for p in self.exclude
        )


class SqlDatabase(Strict):
    credentials: str = Field(description="SQLAlchemy URL, usually `${SOME_ENV_VAR}`.")
    schema_: str | None = Field(None, alias="schema")
    backend: Literal["auto", "connectorx", "pyarrow"] = Field(
        "auto", description="auto: connectorx for PostgreSQL and MySQL/MariaDB, else pyarrow."
    )
    chunk_size: int = Field(100_000, gt=0, description="Rows per Arrow batch (bounds memory).")
    readers: int = Field(
        2,
        ge=1,
        description="Connections reading a table at once: on PostgreSQL a first load's COPYs, "
        "each a range of the table's pages; with connectorx, each a range of an integer first "
        "primary key column (1: one connection).",
    )
    discover: Discover | None = None
    tables: list[SqlTable] = []

    @field_validator("tables", mode="before")
    @classmethod
    def _tables_is_a_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError(
                "to load a whole database, give `discover: {include: ['*']}` and run "
                "`tributary discover <source>`, which lists the tables here"
            )
        return value

    @model_validator(mode="after")
    def _has_unique_tables(self, info: ValidationInfo) -> "SqlDatabase":
        if not self.tables and not (info.context or {}).get("discovering"):
            raise ValueError(
                "no tables yet: run `tributary discover <source>` to list the tables matching "
                "`discover` here"
                if self.discover
                else "give `tables` (or `discover` patterns for a whole database)"
            )
        names = [t.name for t in self.tables]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"table name(s) given twice: {', '.join(twice)}")
        return self

    def declared(self, names: list[str]) -> set[str]:
        """Source tables some declared target table reads."""
        return {n for t in self.tables for n in matching_tables(names, t)}

    def undeclared(self, names: list[str]) -> list[str]:
        """Source tables matching ``discover`` that no declared table reads yet."""
        if self.discover is None:
            return []
        declared = self.declared(names)
        return [n for n in names if self.discover.matches(n) and n not in declared]


def sql_resources(db: SqlDatabase) -> list[Any]:
    """One dlt resource per target table; the first also reports undeclared new tables."""
    return [_sql_resource(db, table, report_new=i == 0) for i, table in enumerate(db.tables)]


def matching_tables(names: list[str], table: SqlTable) -> list[str]:
    """Source tables that feed one target table: the named table, or every matching shard."""
    if table.query:
        return []
    if table.shards:
        return sorted(n for n in names if fnmatchcase(n, table.shards))
    wanted = table.table or table.name
    return [n for n in names if n == wanted]


def _sql_resource(db: SqlDatabase, table: SqlTable, report_new: bool) -> Any:
    """One target table; built at definition time too, so nothing here may connect."""

    @dlt.resource(
        name=table.name,
        primary_key=table.primary_key,
        write_disposition=write_disposition(table.load, table.primary_key),
        columns=_marker_hints(table),
    )
    def read() -> Iterator[Any]:
        engine = sa.create_engine(db.credentials)
        try:
            yield from _read(engine, db, table, report_new)
        finally:
            engine.dispose()

    return read


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
    table goes straight into a DuckDB warehouse while it is read (``sql_stream``).
    """
    backend = pick_backend(db.backend, engine.url)
    if report_new:
        _report_undeclared(engine, db)
    sources = _sources(engine, db, table)
    columns = _with_boolean_flag(column_hints(sources[0][1]), table.deleted_flag)
    columns |= {name: columns.get(name, {}) | hint for name, hint in _marker_hints(table).items()}
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
