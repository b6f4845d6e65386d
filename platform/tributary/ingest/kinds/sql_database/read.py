"""Reading SQL into Arrow batches: connectorx where the URL allows, SQLAlchemy + pyarrow elsewhere.

Every statement is built with SQLAlchemy (identifiers quoted by the dialect, values bound or
rendered by it), so a table, column or cursor value from a YAML file never lands in SQL as
raw text. Batches are bounded (``chunk_size`` rows), so memory stays flat on tables of any size.
"""

from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from typing import Any, Literal

import pyarrow as pa
import sqlalchemy as sa
from dlt.common import logger
from dlt.common.libs.pyarrow import cast_connectorx_temporal_columns, set_plus0000_timezone_to_utc
from dlt.sources.sql_database.arrow_helpers import row_tuples_to_arrow
from dlt.sources.sql_database.schema_types import table_to_columns

Backend = Literal["connectorx", "pyarrow"]
RANGE_BATCHES = 5  # batches per range of a split read: bounds what connectorx holds ahead
SCALED_PRECISION = 18  # decimals of up to 18 digits travel as scaled 64-bit integers
CONNECTORX_SCALE = 10  # connectorx reads every other NUMERIC as decimal128(38, 10): rounded
# SQLAlchemy backend name -> connectorx URL scheme, for the engines the tests cover.
CONNECTORX_SCHEMES = {"postgresql": "postgresql", "mysql": "mysql", "mariadb": "mysql"}


def connectorx_url(url: sa.URL) -> str | None:
    """The URL connectorx takes for a SQLAlchemy URL, or None when it cannot read that engine."""
    scheme = CONNECTORX_SCHEMES.get(url.get_backend_name())
    if scheme is None:
        return None
    return url.set(drivername=scheme).render_as_string(hide_password=False)


def pick_backend(setting: str, url: sa.URL) -> Backend:
    """``auto``: connectorx (Rust, no per-row Python) where it reads the engine, else pyarrow."""
    if setting == "pyarrow":
        return "pyarrow"
    if connectorx_url(url) is not None:
        return "connectorx"
    if setting == "connectorx":
        raise ValueError(
            f"connectorx cannot read {url.get_backend_name()} databases: "
            "set `backend: auto` or `backend: pyarrow`"
        )
    return "pyarrow"


def reflect(engine: sa.Engine, name: str, schema: str | None) -> sa.Table:
    return sa.Table(name, sa.MetaData(), schema=schema, autoload_with=engine)


def query_source(query: str) -> sa.Subquery:
    """A custom query as a FROM item, so cursors and key reads wrap it like a table."""
    return sa.text(query.strip().rstrip(";")).columns().subquery("q")


def column_of(source: sa.FromClause, name: str) -> sa.ColumnElement[Any]:
    """A column of a reflected table, or of a custom query's result (names unknown up front)."""
    if name in source.c:
        return source.c[name]
    if isinstance(source, sa.Table):
        raise LookupError(f"column {name!r} not found in table {source.fullname!r}")
    return sa.column(name)


def column_hints(source: sa.FromClause) -> dict[str, Any]:
    """dlt column hints (types with precision, nullability) reflected from a table."""
    if isinstance(source, sa.Table):
        return table_to_columns(source, "full_with_precision")
    return {}


def partition_column(source: sa.FromClause, key: list[str], columns: dict[str, Any]) -> str | None:
    """The column a table's read may be split on: its integer first key column."""
    if not key or not isinstance(source, sa.Table) or key[0] not in source.c:
        return None
    return key[0] if columns.get(key[0], {}).get("data_type") == "bigint" else None


def read_arrow(
    engine: sa.Engine,
    statement: sa.Select[Any],
    backend: Backend,
    chunk_size: int,
    columns: dict[str, Any],
    split_on: sa.ColumnElement[Any] | None = None,
    readers: int = 1,
) -> Iterator[pa.Table]:
    """The statement's rows in Arrow tables of at most ``chunk_size`` rows.

    A table with an integer first key column (``split_on``) is read by connectorx in ranges of
    that column of about ``RANGE_BATCHES`` batches each, ``readers`` ranges at a time in
    background threads, each over its own connection, at most one range read ahead of the
    caller per reader. connectorx decodes a whole range without holding the GIL, so the ranges
    are decoded on other cores while the caller writes the previous one, and memory stays
    bounded however slow the caller is. (Its Arrow *stream*, used for a query or a table without
    such a key, holds the GIL while it decodes and runs ahead of a slower caller without bound.)
    A table with a decimal column of more than ``CONNECTORX_SCALE`` places that is not scaled
    (``_scaled_decimals``) is read with pyarrow: connectorx would round its values.
    When connectorx refuses the statement up front (a column type it cannot map, an option in
    the URL it does not know) the read falls back to SQLAlchemy + pyarrow with a warning rather
    than failing the load.
    """
    if backend == "connectorx" and _rounded_by_connectorx(statement, columns):
        backend = "pyarrow"
    if backend == "connectorx":
        parts = [statement]
        if split_on is not None:
            parts = _ranges(engine, statement, split_on, RANGE_BATCHES * chunk_size) or parts
        scaled = _scaled_decimals(statement, columns)
        parts = [_with_scaled(part, scaled) for part in parts]
        if len(parts) > 1:
            ranged = _connectorx_ranges(engine, parts, columns, scaled, readers)
            try:
                first = next(ranged)
                if first is not _REFUSED:
                    yield from _chunks(first, chunk_size)
                    del first  # a whole range: not held while the others are read
                    for table in ranged:
                        yield from _chunks(table, chunk_size)
                    return
            finally:
                ranged.close()  # stops the readers when the caller stops early
        else:
            stream = _connectorx_reader(engine, parts[0], chunk_size)
            if stream is not None:
                for batch in stream:
                    yield _narrowed(pa.Table.from_batches([batch]), columns, scaled)
                return
    yield from _pyarrow_batches(engine, statement, chunk_size, columns)


_REFUSED = object()  # connectorx refused the first range: read with pyarrow instead
# On PostgreSQL, connectorx's whole-result reads give smallint, integer and real their own Arrow
# types while its streams (every read before ranges were read whole) widen them: kept as the
# streams have them, so tables keep their column types.
_STREAM_TYPES = {pa.int16(): pa.int64(), pa.int32(): pa.int64(), pa.float32(): pa.float64()}


def _connectorx_ranges(
    engine: sa.Engine,
    parts: list[sa.Select[Any]],
    columns: dict[str, Any],
    scaled: dict[str, pa.Decimal128Type],
    readers: int,
) -> Iterator[Any]:
    """Each range read whole by connectorx in a pool of ``readers`` threads, in order.

    While the caller holds range i, ranges i+1 … i+readers are being read: never more. Yields
    ``_REFUSED`` (and stops) when connectorx refuses the first range.
    """
    import connectorx as cx

    url = connectorx_url(engine.url)
    sqls = [str(p.compile(engine, compile_kwargs={"literal_binds": True})) for p in parts]

    def read(sql: str) -> pa.Table:
        return _as_read(cx.read_sql(url, sql, return_type="arrow"), engine, columns, scaled)

    pool = ThreadPoolExecutor(readers, thread_name_prefix="tributary-read")
    try:
        pending = deque(pool.submit(read, sql) for sql in sqls[:readers])
        queued = iter(sqls[readers:])
        first = True
        while pending:
            try:
                table = pending.popleft().result()
            except BaseException as exc:
                if not first or not _refused(exc):
                    raise
                yield _REFUSED
                return
            first = False
            if (sql := next(queued, None)) is not None:
                pending.append(pool.submit(read, sql))
            yield table
            del table  # not held while the next range is awaited
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _as_read(
    table: pa.Table, engine: sa.Engine, columns: dict[str, Any], scaled: dict[str, Any]
) -> pa.Table:
    """A whole-result connectorx read typed as every read of the engine is."""
    widen = _STREAM_TYPES if engine.url.get_backend_name() == "postgresql" else {}
    for position, field in enumerate(table.schema):
        if field.type in widen:
            table = table.set_column(position, field.name, table[position].cast(widen[field.type]))
    return _narrowed(table, columns, scaled)


def connectorx_empty(
    engine: sa.Engine, statement: sa.Select[Any], columns: dict[str, Any]
) -> pa.Table | None:
    """The statement's columns, no rows, typed exactly as ``read_arrow`` types its batches;
    None when connectorx refuses the statement."""
    import connectorx as cx

    sql = str(statement.limit(0).compile(engine, compile_kwargs={"literal_binds": True}))
    try:
        table = cx.read_sql(connectorx_url(engine.url), sql, return_type="arrow")
    except BaseException as exc:
        if not _refused(exc):
            raise
        return None
    return _as_read(table, engine, columns, {})


def _refused(exc: BaseException) -> bool:
    """connectorx cannot read this (an unsupported column type is a Rust panic, which pyo3
    raises as a BaseException): read with pyarrow instead. Never an interrupt or an exit."""
    if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
        return False
    logger.warning(f"connectorx cannot read this ({exc}); reading with pyarrow instead")
    return True


def _chunks(table: pa.Table, chunk_size: int) -> Iterator[pa.Table]:
    """Zero-copy slices of at most ``chunk_size`` rows."""
    for start in range(0, table.num_rows, chunk_size):
        yield table.slice(start, chunk_size)


def _ranges(
    engine: sa.Engine, statement: sa.Select[Any], column: sa.ColumnElement[Any], rows: int
) -> list[sa.Select[Any]]:
    """The statement cut into ranges of ``column`` holding about ``rows`` rows each."""
    result = statement.subquery()
    value = result.c[column.name]
    bounds = sa.select(sa.func.min(value), sa.func.max(value), sa.func.count())
    with engine.connect() as connection:
        low, high, count = connection.execute(bounds.select_from(result)).one()
    parts = -(-count // rows)  # ceiling
    if low is None or parts < 2:
        return []
    step = (high - low + parts) // parts  # ceil((high - low + 1) / parts)
    edges = [low + i * step for i in range(parts)] + [high + 1]
    return [statement.where(column >= a, column < b) for a, b in pairwise(edges) if a < b]


def _connectorx_reader(
    engine: sa.Engine, statement: sa.Select[Any], chunk_size: int
) -> pa.RecordBatchReader | None:
    import connectorx as cx

    sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
    try:
        return cx.read_sql(
            connectorx_url(engine.url), sql, return_type="arrow_stream", batch_size=chunk_size
        )
    except BaseException as exc:
        if not _refused(exc):
            raise
        return None


def _scaled_decimals(statement: sa.Select[Any], columns: dict[str, Any]) -> dict[str, Any]:
    """Selected decimal columns of at most ``SCALED_PRECISION`` digits, with their Arrow types.

    connectorx decodes a PostgreSQL NUMERIC value by value into decimal128(38, 10): on TPC-H
    lineitem its four numeric columns cost as much CPU as the twelve others together. Selected
    as a count of their smallest unit instead (``CAST(price * 100 AS BIGINT)`` for a
    numeric(12, 2)) they arrive as 64-bit integers, decoded in a fraction of that, and become
    the exact decimals again in Arrow without touching a value (``_unscaled``). Exact: a value
    of at most 18 digits fits a 64-bit integer, and multiplying by a power of ten is exact in
    SQL's decimal arithmetic.
    """
    found = {}
    for column in statement.selected_columns:
        hint = columns.get(getattr(column, "name", None), {})
        precision, scale = hint.get("precision"), hint.get("scale")
        if (
            hint.get("data_type") == "decimal"
            and isinstance(column, sa.Column)
            and precision is not None
            and scale is not None
            and 0 <= scale <= precision <= SCALED_PRECISION
        ):
            found[column.name] = pa.decimal128(precision, scale)
    return found


def _rounded_by_connectorx(statement: sa.Select[Any], columns: dict[str, Any]) -> list[str]:
    """Decimal columns with more places than connectorx keeps, and too long to be scaled.

    All the table's columns count (a query's selected names are unknown up front).
    """
    scaled = _scaled_decimals(statement, columns)
    rounded = [
        name
        for name, hint in columns.items()
        if hint.get("data_type") == "decimal"
        and (hint.get("scale") or 0) > CONNECTORX_SCALE
        and name not in scaled
    ]
    if rounded:
        logger.info(
            f"reading with pyarrow: connectorx would round {', '.join(rounded)} to "
            f"{CONNECTORX_SCALE} decimal places"
        )
    return rounded


def _with_scaled(statement: sa.Select[Any], scaled: dict[str, Any]) -> sa.Select[Any]:
    """The statement selecting each scaled decimal as ``CAST(column * 10^scale AS BIGINT)``."""
    if not scaled:
        return statement
    picked = [
        sa.cast(c * 10 ** scaled[c.name].scale, sa.BigInteger).label(c.name)
        if getattr(c, "name", None) in scaled
        else c
        for c in statement.selected_columns
    ]
    return statement.with_only_columns(*picked, maintain_column_froms=True)


def _unscaled(values: pa.ChunkedArray, type_: pa.Decimal128Type) -> pa.ChunkedArray:
    """Counts of the smallest unit as the decimals they stand for: the same 128-bit unscaled
    integers (a lossless widening; Arrow wants 19 digits for any 64-bit integer, the values
    have at most the declared precision), read with the declared scale."""
    wide = values.cast(pa.decimal128(19, 0))
    return pa.chunked_array(
        [
            pa.Array.from_buffers(type_, len(c), c.buffers(), c.null_count, c.offset)
            for c in wide.chunks
        ],
        type_,
    )


def _narrowed(
    table: pa.Table, columns: dict[str, Any], scaled: dict[str, Any] | None = None
) -> pa.Table:
    """connectorx's Arrow as dlt expects it: UTC time zones named, decimals narrowed.

    connectorx widens every NUMERIC to decimal128(38, 10); narrowing here (cheap in Arrow) spares
    the warehouse a far slower cast of every value on load (6M rows: ~0.4 s here against ~4 s).
    The precision is the column's declared one, so every value fits and the cast skips the
    per-value overflow check. Scaled decimals (``_scaled_decimals``) are rebuilt instead.
    """
    table = cast_connectorx_temporal_columns(set_plus0000_timezone_to_utc(table))
    scaled = scaled or {}
    for name, hint in columns.items():
        if name not in table.column_names:
            continue
        position = table.column_names.index(name)
        if name in scaled and pa.types.is_integer(table[name].type):
            table = table.set_column(position, name, _unscaled(table[name], scaled[name]))
            continue
        if (
            hint.get("data_type") != "decimal"
            or hint.get("precision", 99) > 38
            or hint.get("scale") is None
        ):
            continue
        type_ = pa.decimal128(hint["precision"], hint["scale"])
        if table[name].type != type_:
            table = table.set_column(position, name, table[name].cast(type_, safe=False))
    return table


def _pyarrow_batches(
    engine: sa.Engine, statement: sa.Select[Any], chunk_size: int, columns: dict[str, Any]
) -> Iterator[pa.Table]:
    with engine.connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=chunk_size).execute(
            statement
        )
        names = list(result.keys())
        typed = {name: columns.get(name, {"name": name}) for name in names}
        for rows in result.partitions():
            yield row_tuples_to_arrow([row._tuple() for row in rows], columns=typed, tz="UTC")
