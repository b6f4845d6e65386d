"""A PostgreSQL table's first load: COPY … TO STDOUT (CSV) read by DuckDB's own CSV reader.

Why this exists: on a full load of a big table nearly all the CPU goes into decoding PostgreSQL's
rows. connectorx decodes them into Arrow (~2.5 µs a row on TPC-H lineitem, more CPU than
PostgreSQL spends sending them), then DuckDB converts the Arrow into its own vectors. DuckDB's
CSV reader turns PostgreSQL's CSV into those vectors directly, at a fraction of the cost, and
psycopg2 hands the CSV over without building a Python value per field. On two cores that took
the full load of lineitem from ~1.75× to ~1.2–1.4× the time of DuckDB's own postgres scanner
(docs/benchmarks.md).

How: ``readers`` background threads each run ``COPY (SELECT …) TO STDOUT WITH (FORMAT csv)``
over a range of the table's pages (``ctid`` ranges, which PostgreSQL 14+ reads without scanning
the rest) into a named pipe of their own, all in the one snapshot a coordinating connection
exports (``pg_export_snapshot``) and keeps until the load ends, so a row updated while the load
runs is read exactly once, as the snapshot has it. One DuckDB INSERT reads every pipe
(``UNION ALL`` of ``read_csv`` scans) into the table ``stream.replacing_table`` created from
dlt's schema, so the table, its types and its bookkeeping are those of every streamed first
load. The table's Arrow types come from connectorx reading zero rows, exactly as the batches of
an Arrow read would be typed, and each CSV column is parsed straight into the DuckDB type dlt
gave it. A failure of any COPY or of DuckDB rolls the whole transaction back.

Only where the CSV says everything: a real table (not a query, not shards) on PostgreSQL through
psycopg2, read with the connectorx backend, whose columns are all numbers, decimals of a declared
precision, booleans, text (not JSON, which connectorx re-serializes), dates or timestamps, with
no ``deleted_flag`` to rewrite. The session is pinned so the text is unambiguous: UTF-8, ISO
dates, UTC, floats to the last digit; ``real`` columns are sent as ``float8`` (as the Arrow path
widens them) and naive timestamps with their ``+00`` offset (so a BC timestamp, which DuckDB
would read as AD, fails instead); NULL is an unquoted empty field and an empty string a quoted
one (``allow_quoted_nulls=false``); dates are read by an explicit format (DuckDB's default
reads ``0044-03-15 BC`` as AD; the format refuses it); a constant first column keeps DuckDB
from taking a byte-order mark off the first value. A value DuckDB cannot read (a BC date, a row
longer than ``MAX_LINE``) makes the load fall back to the Arrow path (``CopyUnreadable``).
"""

import io
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from contextlib import suppress
from typing import Any

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from tributary.identifiers import ident
from tributary.ingest.kinds.sql_database.cursor import Cursor
from tributary.ingest.kinds.sql_database.read import connectorx_empty
from tributary.ingest.kinds.sql_database.stream import Target, replacing_table

PIPE_BUFFER = 1 << 20  # bytes the reader collects before writing them to the pipe
MAX_LINE = 8 << 20  # the longest row DuckDB reads; it holds buffers of twice that
LEAD = "_tributary_lead"  # the constant first column (see the module doc)
SESSION = (
    "SET LOCAL DateStyle = 'ISO, YMD'",
    "SET LOCAL TimeZone = 'UTC'",
    "SET LOCAL extra_float_digits = 3",  # the shortest text that reads back as the same float
)


class CopyUnreadable(Exception):
    """PostgreSQL's CSV holds a value DuckDB's reader cannot take: load through Arrow instead.

    The message names the column and row, never the value (it may be personal data)."""

    def __str__(self) -> str:
        return f"DuckDB cannot read a value of PostgreSQL's COPY ({self.args[0]})"


def copy_plan(
    engine: sa.Engine,
    source: sa.FromClause,
    columns: dict[str, Any],
    deleted_flag: str | None,
    cursor_column: str | None,
) -> pa.Table | None:
    """The empty Arrow table of ``source`` when its full load may go through COPY, else None."""
    if (
        engine.url.get_backend_name() != "postgresql"
        or engine.dialect.driver != "psycopg2"
        or not isinstance(source, sa.Table)
        or deleted_flag is not None
        or (cursor_column is not None and cursor_column not in source.c)
        or any(isinstance(c.type, sa.JSON) for c in source.c)
    ):
        return None
    empty = connectorx_empty(engine, sa.select(source), columns)
    if empty is None or not all(_in_csv(f.type) for f in empty.schema):
        return None
    declared = [n for n, h in columns.items() if h.get("data_type") == "decimal"]
    if any(
        columns[n].get("precision") is None or columns[n].get("scale") is None for n in declared
    ):
        return None  # an unconstrained NUMERIC: Arrow rounds it its own way
    return empty


def _in_csv(type_: pa.DataType) -> bool:
    return (
        pa.types.is_integer(type_)
        or pa.types.is_floating(type_)
        or pa.types.is_decimal(type_)
        or pa.types.is_boolean(type_)
        or pa.types.is_string(type_)
        or pa.types.is_large_string(type_)
        or pa.types.is_date32(type_)
        or pa.types.is_timestamp(type_)
    )


def copy_full_load(
    name: str,
    engine: sa.Engine,
    source: sa.Table,
    empty: pa.Table,
    readers: int,
    cursor: Cursor | None,
    key: list[str],
) -> Iterator[Any]:
    """Replace table ``name`` with every row of ``source``, copied in ``readers`` page ranges.

    Yields what dlt should see instead of the rows, as ``stream.stream_full_load`` does: the
    empty table, from which dlt computes the table's schema. Advances ``cursor`` as if it had
    admitted every row. Nothing is replaced when the table has no rows. Raises
    ``CopyUnreadable`` (nothing replaced, the cursor untouched) when DuckDB cannot read a value.
    """
    with engine.connect() as connection:
        found = connection.execute(sa.select(sa.literal(1)).select_from(source).limit(1)).first()
    if found is None:
        return
    yield empty
    with replacing_table(name) as target:
        names = [target.schema.naming.normalize_identifier(c) for c in empty.column_names]
        described = f"SELECT column_name, column_type FROM (DESCRIBE {target.qualified})"
        types = dict(target.connection.execute(described).fetchall())
        parts = _page_ranges(engine, source, readers)
        target.done["rows"], target.done["bytes"] = _copy(
            engine, target, parts, {LEAD: "INTEGER"} | {n: types[n] for n in names}
        )
        if cursor is not None:
            cursor.admit(_rows_at_latest(target, empty.column_names, names, cursor, key), key)


def _page_ranges(engine: sa.Engine, source: sa.Table, readers: int) -> list[str]:
    """``SELECT`` statements reading the table in ``readers`` ranges of its pages, together
    every row once: the first range open below, the last open above (a table may grow)."""
    select = _select(source)
    parts = [select]
    if readers > 1:
        with engine.connect() as connection:
            version = connection.execute(sa.text("show server_version_num")).scalar()
            found = connection.execute(
                sa.text(
                    "select relkind, pg_relation_size(oid) / current_setting('block_size')::int "
                    "from pg_class where oid = cast(:name as regclass)"
                ),
                {"name": engine.dialect.identifier_preparer.format_table(source)},
            ).first()
        # Before 14, PostgreSQL reads a ctid range by scanning the whole table.
        if int(version) >= 140000 and found is not None and found[0] == "r":
            edges = [found[1] * i // readers for i in range(1, readers)]
            if len(set(edges)) == len(edges) and edges[0] > 0:
                parts = [
                    select.where(
                        *([sa.text(f"ctid >= '({low},0)'::tid")] if low is not None else []),
                        *([sa.text(f"ctid < '({high},0)'::tid")] if high is not None else []),
                    )
                    for low, high in zip([None, *edges], [*edges, None], strict=True)
                ]
    return [str(p.compile(engine, compile_kwargs={"literal_binds": True})) for p in parts]


def _select(source: sa.Table) -> sa.Select[Any]:
    """Every column, as the CSV should carry it (see the module doc)."""
    picked: list[Any] = [sa.literal(0).label(LEAD)]
    for column in source.c:
        if isinstance(column.type, sa.REAL):
            column = sa.cast(column, sa.Double).label(column.name)
        elif isinstance(column.type, sa.DateTime) and not column.type.timezone:
            column = sa.func.timezone("UTC", column).label(column.name)  # AT TIME ZONE 'UTC'
        picked.append(column)
    return sa.select(*picked)


def _copy(
    engine: sa.Engine, target: Target, parts: list[str], types: dict[str, str]
) -> tuple[int, int]:
    """Every part COPYed through a pipe of its own into the target table; (rows, CSV bytes)."""
    folder = tempfile.mkdtemp(prefix="tributary-copy-")
    pipes = [os.path.join(folder, f"part_{i}.csv") for i in range(len(parts))]
    coordinator = None
    feeders: list[_Feeder] = []
    try:
        for pipe in pipes:
            os.mkfifo(pipe, 0o600)
        snapshot = None
        if len(parts) > 1:  # every part read in the snapshot this connection keeps open
            coordinator = _connect(engine)
            with coordinator.cursor() as cur:
                cur.execute("SELECT pg_export_snapshot()")
                snapshot = cur.fetchone()[0]
        feeders = [_Feeder(engine, *part, snapshot) for part in zip(parts, pipes, strict=True)]
        load_id_column = target.schema.naming.normalize_identifier("_dlt_load_id")
        scans = " UNION ALL ".join(
            f"SELECT * EXCLUDE ({LEAD}), $load_id AS {load_id_column} "
            f"FROM read_csv({_quoted(pipe)}, {_csv_options(types)})"
            for pipe in pipes
        )
        for feeder in feeders:
            feeder.start()
        try:
            rows = target.connection.execute(
                f"INSERT INTO {target.qualified} BY NAME {scans}", {"load_id": target.load_id}
            ).fetchone()[0]
        except BaseException as exc:
            cut = next((f.error for f in feeders if f.error is not None), None)
            if cut is not None:  # a COPY failed first: DuckDB read a short pipe
                raise cut from None
            if isinstance(exc, duckdb.ConversionException | duckdb.InvalidInputException):
                raise CopyUnreadable(_where(exc)) from None  # DuckDB's message quotes the row
            raise
    finally:
        for feeder in feeders:
            feeder.stop()  # ended already, unless DuckDB failed or never read its pipe
        if coordinator is not None:
            coordinator.close()
        for pipe in pipes:
            with suppress(FileNotFoundError):
                os.unlink(pipe)
        os.rmdir(folder)
    for feeder in feeders:
        if feeder.error is not None:
            raise feeder.error  # cut short where a row ended: DuckDB read no error
    return rows, sum(f.written for f in feeders)


def _connect(engine: sa.Engine) -> Any:
    """A psycopg2 connection of its own (not the pool's), in a read-only snapshot transaction."""
    args, kwargs = engine.dialect.create_connect_args(engine.url)
    connection = engine.dialect.loaded_dbapi.connect(*args, **kwargs)
    connection.set_session(isolation_level="REPEATABLE READ", readonly=True)
    connection.set_client_encoding("UTF8")
    return connection


def _where(exc: Exception) -> str:
    """Where DuckDB could not read the CSV: the column and line, not the value."""
    column = re.search(r'column "([^"]*)"', str(exc))
    line = re.search(r"Line: (\d+)", str(exc))
    return (
        f"{type(exc).__name__}"
        + (f" in column {column.group(1)}" if column else "")
        + (f" on row {line.group(1)}" if line else "")
    )


def _csv_options(types: dict[str, str]) -> str:
    columns = ", ".join(f"{_quoted(n)}: {_quoted(t)}" for n, t in types.items())
    return (
        f"columns = {{{columns}}}, header = false, auto_detect = false, delim = ',', "
        "quote = '\"', escape = '\"', allow_quoted_nulls = false, dateformat = '%Y-%m-%d', "
        f"max_line_size = {MAX_LINE}, buffer_size = {2 * MAX_LINE}"
    )


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class _Counted(io.FileIO):
    """The writing end of a pipe, counting bytes (called once per buffer, not per row)."""

    written = 0

    def write(self, data: Any) -> int:
        done = super().write(data)
        self.written += done or 0
        return done


class _Feeder(threading.Thread):
    """``COPY (sql) TO STDOUT`` into the pipe, from a psycopg2 connection of its own.

    The pipe is opened first, before anything that can fail, so DuckDB (which waits for a
    writer to open it) always sees it end: early and short when the COPY fails. Only then does
    the COPY's transaction begin (importing the shared snapshot), so a reader never sits idle in
    a transaction while DuckDB reads another pipe. A failure is recorded before the pipe closes,
    so DuckDB's error on the short pipe comes after it.
    """

    def __init__(self, engine: sa.Engine, sql: str, pipe: str, snapshot: str | None):
        super().__init__(name="tributary-copy", daemon=True)
        self.engine, self.sql, self.pipe, self.snapshot = engine, sql, pipe, snapshot
        self.error: BaseException | None = None
        self.written = 0
        self.connection: Any = None
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            raw = _Counted(self.pipe, "wb")  # waits for DuckDB to open the reading end
        except BaseException as exc:
            self.error = exc
            return
        out = io.BufferedWriter(raw, PIPE_BUFFER)
        try:
            if self.stopped.is_set():
                raise RuntimeError("stopped before the COPY began")
            self._copy(out)
            out.flush()
            self.written = raw.written
        except BaseException as exc:  # reported by the writer, after DuckDB's INSERT
            self.error = exc
        finally:
            with suppress(OSError):  # nothing left to flush, or nobody reading any more
                out.close()

    def _copy(self, out: io.BufferedWriter) -> None:
        self.connection = _connect(self.engine)
        try:
            with self.connection.cursor() as cur:
                if self.snapshot is not None:
                    cur.execute("SET TRANSACTION SNAPSHOT %s", (self.snapshot,))
                for statement in SESSION:
                    cur.execute(statement)
                cur.copy_expert(f"COPY ({self.sql}) TO STDOUT WITH (FORMAT csv)", out)
            self.connection.rollback()  # read only: nothing to commit
        finally:
            self.connection.close()

    def stop(self) -> None:
        """Wait for the thread to end; if DuckDB stopped reading, make it end: the COPY is
        cancelled, and a pipe nobody reads (any more) is drained, so that the writer's open and
        writes get through and it ends instead of blocking."""
        self.stopped.set()
        while self.is_alive():
            connection = self.connection
            if connection is not None and not connection.closed:
                with suppress(Exception):
                    connection.cancel()
            _drain(self.pipe)
            self.join(0.05)


def _drain(pipe: str) -> None:
    """Read and drop what is in the pipe, as a reader that then goes away."""
    with suppress(OSError):
        reading = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)
        try:
            while os.read(reading, 1 << 16):
                pass
        except BlockingIOError:
            pass
        finally:
            os.close(reading)


def _rows_at_latest(
    target: Target, source_names: list[str], names: list[str], cursor: Cursor, key: list[str]
) -> pa.Table:
    """The loaded rows at the latest cursor value (their key and cursor columns, by their
    source names): all ``Cursor.admit`` needs to know where the load got to."""
    renamed = dict(zip(source_names, names, strict=True))
    picked = [c for c in source_names if c in {*key, cursor.column}]
    column = ident(renamed[cursor.column])
    select = ", ".join(f"{ident(renamed[c])} AS {ident(c)}" for c in picked)
    return target.connection.execute(
        f"SELECT {select} FROM {target.qualified} "
        f"WHERE {column} = (SELECT max({column}) FROM {target.qualified})"
    ).to_arrow_table()
