"""A PostgreSQL table's first load: COPY … TO STDOUT (CSV) read by DuckDB's own CSV reader.

Why this exists: on a full load of a big table nearly all the CPU goes into decoding PostgreSQL's
rows. connectorx decodes them into Arrow (~2.5 µs a row on TPC-H lineitem, more CPU than
PostgreSQL spends sending them), then DuckDB converts the Arrow into its own vectors. DuckDB's
CSV reader turns PostgreSQL's CSV into those vectors directly, at a fraction of the cost, and
psycopg2 hands the CSV over without building a Python value per field. On two cores that took
the full load of lineitem from ~1.7× to ~1.2× the time of DuckDB's own postgres scanner
(docs/benchmarks.md).

How: ``readers`` connections each COPY a range of the table's pages (``ctid`` ranges, read by
PostgreSQL 14+ without scanning the rest) into a named pipe of their own, all in one snapshot
that a coordinating connection exports (``pg_export_snapshot``), so a row updated while the load
runs is read exactly once, as the snapshot has it. One DuckDB INSERT reads every pipe at once
(``UNION ALL`` of ``read_csv`` scans) into the table ``sql_stream.replacing_table`` created from
dlt's schema, so the table, its types and its bookkeeping are those of every streamed first
load. The table's Arrow types come from connectorx reading zero rows, exactly as the batches of
an Arrow read would be typed, and each CSV column is parsed straight into the DuckDB type dlt gave
it. A failure of any reader or of DuckDB rolls the whole transaction back.

Only where the CSV says everything: a real table (not a query, not shards) on PostgreSQL through
psycopg2, read with the connectorx backend, whose columns are all numbers, decimals of a declared
precision, booleans, text, dates or timestamps, with no ``deleted_flag`` to rewrite. Each side's
session is pinned so the text is unambiguous: UTF-8, ISO dates, UTC, floats to the last digit;
NULL is an unquoted empty field and an empty string a quoted one (``allow_quoted_nulls=false``).
Everything else keeps the Arrow path (``read_arrow``).
"""

import io
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import suppress
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from tributary.ingest.sql_cursor import Cursor
from tributary.ingest.sql_read import connectorx_empty
from tributary.ingest.sql_stream import Target, replacing_table

PIPE_BUFFER = 1 << 20  # bytes a reader collects before writing them to its pipe
MAX_LINE = 8 << 20  # the longest row DuckDB reads; each pipe holds buffers of twice that
SESSION = (
    "SET LOCAL DateStyle = 'ISO, YMD'",
    "SET LOCAL TimeZone = 'UTC'",
    "SET LOCAL extra_float_digits = 3",  # the shortest text that reads back as the same float
)


def copy_plan(
    engine: sa.Engine, source: sa.FromClause, columns: dict[str, Any], deleted_flag: str | None
) -> pa.Table | None:
    """The empty Arrow table of ``source`` when its full load may go through COPY, else None."""
    if (
        engine.url.get_backend_name() != "postgresql"
        or engine.dialect.driver != "psycopg2"
        or not isinstance(source, sa.Table)
        or deleted_flag is not None
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

    Yields what dlt should see instead of the rows, as ``sql_stream.stream_full_load`` does: the
    empty table, from which dlt computes the table's schema. Advances ``cursor`` as if it had
    admitted every row. Nothing is replaced when the table has no rows.
    """
    with engine.connect() as connection:
        if (
            connection.execute(sa.select(sa.literal(1)).select_from(source).limit(1)).first()
            is None
        ):
            return
    yield empty
    with replacing_table(name) as target:
        names = [target.schema.naming.normalize_identifier(c) for c in empty.column_names]
        described = f"SELECT column_name, column_type FROM (DESCRIBE {target.qualified})"
        types = dict(target.connection.execute(described).fetchall())
        parts = _page_ranges(engine, source, readers)
        target.done["rows"], target.done["bytes"] = _copy(
            engine, target, parts, {n: types[n] for n in names}
        )
        if cursor is not None:
            cursor.admit(_rows_at_latest(target, empty.column_names, names, cursor, key), key)


def _page_ranges(engine: sa.Engine, source: sa.Table, readers: int) -> list[str]:
    """``SELECT`` statements reading the table in ``readers`` ranges of its pages, together
    every row once: the first range open below, the last open above (a table may grow)."""
    select = sa.select(source)
    whole = str(select.compile(engine, compile_kwargs={"literal_binds": True}))
    if readers < 2:
        return [whole]
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
    if int(version) < 140000 or found is None or found[0] != "r" or found[1] < readers:
        return [whole]
    pages = found[1]
    edges = [pages * i // readers for i in range(1, readers)]
    parts = []
    for low, high in zip([None, *edges], [*edges, None], strict=True):
        bounds = [f"ctid >= '({low},0)'::tid"] if low is not None else []
        bounds += [f"ctid < '({high},0)'::tid"] if high is not None else []
        ranged = select.where(*(sa.text(b) for b in bounds))
        parts.append(str(ranged.compile(engine, compile_kwargs={"literal_binds": True})))
    return parts


def _copy(engine: sa.Engine, target: Target, parts: list[str], types: dict[str, str]) -> tuple:
    """Every part COPYed through a pipe into the target table; (rows, CSV bytes)."""
    folder = tempfile.mkdtemp(prefix="tributary-copy-")
    pipes = [os.path.join(folder, f"part_{i}.csv") for i in range(len(parts))]
    for pipe in pipes:
        os.mkfifo(pipe, 0o600)
    coordinator = _connect(engine) if len(parts) > 1 else None
    snapshot = None
    if coordinator is not None:
        with coordinator.cursor() as cur:
            cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cur.execute("SELECT pg_export_snapshot()")
            snapshot = cur.fetchone()[0]
    feeders = [_Feeder(engine, sql, pipe, snapshot) for sql, pipe in zip(parts, pipes, strict=True)]
    try:
        for feeder in feeders:
            feeder.start()
        load_id_column = target.schema.naming.normalize_identifier("_dlt_load_id")
        scans = " UNION ALL ".join(
            f"SELECT *, $load_id AS {load_id_column} FROM read_csv({_quoted(pipe)}, "
            f"{_csv_options(types)})"
            for pipe in pipes
        )
        rows = target.connection.execute(
            f"INSERT INTO {target.qualified} BY NAME {scans}", {"load_id": target.load_id}
        ).fetchone()[0]
    finally:
        for pipe, feeder in zip(pipes, feeders, strict=True):
            while feeder.is_alive():  # after a failure, a pipe DuckDB never opened or stopped
                _release(pipe)  # reading must not keep its reader waiting
                feeder.join(0.05)
        if coordinator is not None:
            coordinator.close()
        for pipe in pipes:
            os.unlink(pipe)
        os.rmdir(folder)
    for feeder in feeders:
        if feeder.error is not None:
            raise feeder.error  # a reader that stopped early: its pipe ended short
    return rows, sum(f.written for f in feeders)


def _csv_options(types: dict[str, str]) -> str:
    columns = ", ".join(f"{_quoted(n)}: {_quoted(t)}" for n, t in types.items())
    return (
        f"columns = {{{columns}}}, header = false, auto_detect = false, delim = ',', "
        "quote = '\"', escape = '\"', allow_quoted_nulls = false, "
        f"max_line_size = {MAX_LINE}, buffer_size = {2 * MAX_LINE}"
    )


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _connect(engine: sa.Engine) -> Any:
    """A psycopg2 connection of its own (not the pool's: its session is changed)."""
    args, kwargs = engine.dialect.create_connect_args(engine.url)
    connection = engine.dialect.loaded_dbapi.connect(*args, **kwargs)
    connection.autocommit = True  # transactions are begun by hand, as snapshots need
    connection.set_client_encoding("UTF8")
    return connection


def _release(pipe: str) -> None:
    """Open and close the pipe's reading end: a writer blocked opening it gets through, and
    its writes then fail (nobody reads) instead of blocking forever."""
    with suppress(OSError):
        os.close(os.open(pipe, os.O_RDONLY | os.O_NONBLOCK))


class _Counted(io.FileIO):
    """The writing end of a pipe, counting bytes (called once per buffer, not per row)."""

    written = 0

    def write(self, data: Any) -> int:
        done = super().write(data)
        self.written += done or 0
        return done


class _Feeder(threading.Thread):
    """One part: ``COPY (part) TO STDOUT`` in the shared snapshot, into its pipe."""

    def __init__(self, engine: sa.Engine, sql: str, pipe: str, snapshot: str | None):
        super().__init__(name="tributary-copy", daemon=True)
        self.engine, self.sql, self.pipe, self.snapshot = engine, sql, pipe, snapshot
        self.error: BaseException | None = None
        self.written = 0

    def run(self) -> None:
        try:
            connection = _connect(self.engine)
            try:
                with connection.cursor() as cur:
                    cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    if self.snapshot is not None:
                        cur.execute("SET TRANSACTION SNAPSHOT %s", (self.snapshot,))
                    for statement in SESSION:
                        cur.execute(statement)
                    raw = _Counted(self.pipe, "wb")
                    with io.BufferedWriter(raw, PIPE_BUFFER) as out:
                        cur.copy_expert(f"COPY ({self.sql}) TO STDOUT WITH (FORMAT csv)", out)
                    self.written = raw.written
            finally:
                connection.close()
        except BaseException as exc:  # reported by the writer, after DuckDB's INSERT
            self.error = exc


def _rows_at_latest(
    target: Target, source_names: list[str], names: list[str], cursor: Cursor, key: list[str]
) -> pa.Table:
    """The loaded rows at the latest cursor value (their key and cursor columns, by their
    source names): all ``Cursor.admit`` needs to know where the load got to."""
    renamed = dict(zip(source_names, names, strict=True))
    picked = [c for c in source_names if c in {*key, cursor.column}]
    column = _identifier(renamed[cursor.column])
    select = ", ".join(f"{_identifier(renamed[c])} AS {_identifier(c)}" for c in picked)
    return target.connection.execute(
        f"SELECT {select} FROM {target.qualified} "
        f"WHERE {column} = (SELECT max({column}) FROM {target.qualified})"
    ).to_arrow_table()


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
