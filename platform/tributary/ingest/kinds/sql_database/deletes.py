"""Rows whose key vanished from a SQL source, found by comparing key sets (``detect_deletes``).

A cursor never sees a deleted row: it is simply gone. So, when asked, each incremental run reads
the source's keys (keys only, streamed in Arrow batches) and the warehouse's keys, anti-joins them
in an in-memory DuckDB, and re-emits the warehouse rows whose key vanished with the delete marker
set. The merge then removes them (``hard``) or keeps them flagged (``soft``). Whole rows are
re-emitted, not bare keys, because reflected NOT NULL columns would reject key-only rows and a
soft delete must keep the row as it was.
"""

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import chain, islice
from typing import Any

import dlt
import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.schema.utils import has_table_seen_data
from dlt.destinations.exceptions import DatabaseUndefinedRelation

from tributary.contracts.sql_database import DELETED_COLUMN, DeleteMode

KEY_BATCH = 100_000  # warehouse keys per Arrow batch
IN_LIST = 1_000  # keys per `in (...)` list when fetching vanished rows back


def marker_values(data_type: str | None, count: int, mode: DeleteMode) -> pa.Array:
    """The marker of deleted rows, in the marker column's type.

    A boolean marker is true; a timestamp or date marker says when the deletion was seen. In
    ``hard`` mode any non-null value deletes (dlt's ``hard_delete`` rule), so other types get one;
    in ``soft`` mode the value stays visible, so only booleans and dates make sense.
    """
    if data_type in (None, "bool"):
        return pa.array([True] * count, pa.bool_())
    now = datetime.now(UTC)
    if data_type == "timestamp":
        return pa.array([now] * count, pa.timestamp("us", tz="UTC"))
    if data_type == "date":
        return pa.array([now.date()] * count, pa.date32())
    if mode == "soft":
        raise ValueError(
            f"a soft delete marker must be boolean, timestamp or date, not {data_type}: "
            f"drop `deleted_flag` to flag vanished rows in `{DELETED_COLUMN}`"
        )
    if data_type in ("text", "json"):
        return pa.array(["deleted"] * count, pa.string())
    return pa.array([1] * count, pa.int64())


def _positional(batches: Iterable[pa.Table], names: list[str]) -> pa.RecordBatchReader:
    """Batches with columns renamed k0, k1, …: the anti-join SQL never names a user's column."""
    positional = [f"k{i}" for i in range(len(names))]
    renamed = (b.select(names).rename_columns(positional) for b in batches)
    first = next(renamed, None)
    if first is None:
        empty = pa.schema([(n, pa.null()) for n in positional])
        return pa.RecordBatchReader.from_batches(empty, iter(()))
    tables = chain([first], (t.cast(first.schema) for t in renamed))
    return pa.RecordBatchReader.from_batches(
        first.schema, (batch for t in tables for batch in t.to_batches())
    )


def vanished_rows(
    table: str, key: list[str], marker: str, mode: DeleteMode, source_keys: Iterable[pa.Table]
) -> Iterator[pa.Table]:
    """Warehouse rows of ``table`` whose key is no longer in ``source_keys``, marker set.

    Runs inside a dlt extract (it reads the pipeline's destination). Nothing is yielded before
    the table has been loaded once, and in ``soft`` mode rows flagged earlier are left alone.
    """
    schema = dlt.current.source_schema()
    naming = schema.naming
    stored = schema.tables.get(naming.normalize_table_identifier(table))
    if stored is None or not has_table_seen_data(stored):
        return
    columns = stored["columns"]
    dest_key = [naming.normalize_identifier(k) for k in key]
    dest_marker = naming.normalize_identifier(marker)
    keep_flagged = mode == "soft" and dest_marker in columns
    positions = range(len(key))
    matched = " and ".join(f"s.k{i} = d.k{i}" for i in positions)
    unflagged = ""
    if keep_flagged:
        flag = f"d.k{len(key)}"
        is_bool = columns[dest_marker].get("data_type") == "bool"
        unflagged = f"and not coalesce({flag}, false)" if is_bool else f"and {flag} is null"
    picked = [*dest_key, *([dest_marker] if keep_flagged else [])]
    data_type = columns.get(dest_marker, {}).get("data_type")
    pipeline = dlt.current.pipeline()
    with pipeline.sql_client(schema_name=schema.name) as client, duckdb.connect() as con:
        # Identifiers are quoted by the destination's client, values bound as parameters.
        qualified = client.make_qualified_table_name(stored["name"])
        listed = ", ".join(client.escape_column_name(c) for c in picked)
        try:
            with client.execute_query(f"select {listed} from {qualified}") as cursor:
                con.register("d", _positional(cursor.iter_arrow(KEY_BATCH), picked))
                con.register("s", _positional(source_keys, key))
                # Only the positional names k0, k1, … appear here, never a user's identifier.
                gone = con.sql(
                    f"select {', '.join(f'd.k{i}' for i in positions)} from d "
                    f"where not exists (select 1 from s where {matched}) {unflagged}"
                ).to_arrow_table()
        except DatabaseUndefinedRelation:
            return
        gone = gone.rename_columns(dest_key)
        first = client.escape_column_name(dest_key[0])
        firsts = iter(pc.unique(gone[dest_key[0]]).to_pylist())
        while values := list(islice(firsts, IN_LIST)):
            listed = ", ".join(["%s"] * len(values))
            query = f"select * from {qualified} where {first} in ({listed})"
            with client.execute_query(query, *values) as cursor:
                fetched = list(cursor.iter_arrow(KEY_BATCH))  # .arrow() breaks on duckdb 2.0
            if not fetched:
                continue
            rows = pa.concat_tables(fetched).join(gone, keys=dest_key, join_type="left semi")
            rows = rows.drop_columns([c for c in rows.column_names if c.startswith("_dlt_")])
            flags = marker_values(data_type, rows.num_rows, mode)
            if dest_marker in rows.column_names:
                rows = rows.set_column(rows.column_names.index(dest_marker), dest_marker, flags)
            else:
                rows = rows.append_column(dest_marker, flags)
            yield rows


def key_columns(primary_key: Any) -> list[str]:
    return [primary_key] if isinstance(primary_key, str) else list(primary_key or [])
