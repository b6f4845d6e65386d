"""Turn a SourceSpec into a dlt source: one dlt resource per target table.

Called twice per source: at definition time with ``environ=None`` (only names and hints are
needed, nothing connects and ``${VARS}`` stay unresolved) and at run time with the real
environment, which resolves every ``${VAR}`` first so a missing secret is named up front.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Any

import dlt
import pyarrow as pa
import sqlalchemy as sa
from dlt.common.schema import Schema
from dlt.extract.source import DltSource
from dlt.sources.filesystem import FileItemDict, filesystem
from dlt.sources.rest_api import rest_api_source
from dlt.sources.sql_database import sql_table

from tributary.ingest.spec import FileTable, SourceSpec, SqlDatabase, SqlTable, resolve_env

SOURCE_TABLE_COLUMN = "_source_table"  # which shard a row came from
FILE_NAME_COLUMN = "_file_name"  # which export file a row came from
FILE_LINE_COLUMN = "_line"  # its line in that file (header = line 1)


def build_source(spec: SourceSpec, environ: Mapping[str, str] | None = None) -> DltSource:
    """The dlt source for a spec; with ``environ`` every ``${VAR}`` is resolved from it."""
    if environ is not None:
        spec = resolve_env(spec, environ)
    schema = Schema(spec.name, normalizers={"names": spec.naming})
    if spec.kind == "rest_api":
        return rest_api_source(spec.rest_api, schema=schema)
    if spec.kind == "sql_database":
        resources = [_sql_resource(spec.sql_database, t) for t in spec.sql_database.tables]
    else:
        fs = spec.filesystem
        resources = [_file_resource(fs.bucket_url, t) for t in fs.tables]
    return dlt.source(lambda: resources, schema=schema)()


def matching_tables(names: list[str], table: SqlTable) -> list[str]:
    """Source tables that feed one target table: the named table, or every matching shard."""
    if table.shards:
        return sorted(n for n in names if fnmatchcase(n, table.shards))
    wanted = table.table or table.name
    return [n for n in names if n == wanted]


def _sql_resource(db: SqlDatabase, table: SqlTable) -> Any:
    """One target table read from one source table or a set of same-shaped shards.

    The outer dlt incremental keeps the cursor in pipeline state; each shard is read with that
    cursor pushed down into its SQL, in Arrow batches (bounded memory, no per-row Python).
    """
    cursor = (
        dlt.sources.incremental(table.incremental, initial_value=table.initial_value)
        if table.incremental
        else None
    )

    @dlt.resource(
        name=table.name,
        primary_key=table.primary_key,
        write_disposition="merge" if table.primary_key else "append",
    )
    def read(cursor: dlt.sources.incremental[Any] | None = cursor) -> Iterator[Any]:
        engine = sa.create_engine(db.credentials)
        try:
            shards = matching_tables(sa.inspect(engine).get_table_names(schema=db.schema_), table)
            if not shards:
                raise LookupError(
                    f"no table matches {table.shards or table.table or table.name!r} "
                    f"in {engine.url.render_as_string(hide_password=True)}"
                )
            for shard in shards:
                pushed_down = (
                    dlt.sources.incremental(table.incremental, initial_value=cursor.start_value)
                    if cursor
                    else None
                )
                for batch in sql_table(
                    engine,
                    table=shard,
                    schema=db.schema_,
                    backend=db.backend,
                    chunk_size=db.chunk_size,
                    incremental=pushed_down,
                    reflection_level="full_with_precision",
                ):
                    if table.shards and isinstance(batch, pa.Table):
                        batch = batch.append_column(
                            SOURCE_TABLE_COLUMN, pa.array([shard] * batch.num_rows, pa.string())
                        )
                    elif table.shards:
                        batch = [{**row, SOURCE_TABLE_COLUMN: shard} for row in batch]
                    yield batch
        finally:
            engine.dispose()

    return read


def _file_resource(bucket_url: str, table: FileTable) -> Any:
    """New files matching a glob, each parsed as text (no type guessing in the raw layer)."""
    files = filesystem(bucket_url=bucket_url, file_glob=table.glob).with_name(f"{table.name}_files")
    files.apply_hints(incremental=dlt.sources.incremental("modification_date"))

    @dlt.transformer(
        name=table.name,
        primary_key=table.primary_key or [FILE_NAME_COLUMN, FILE_LINE_COLUMN],
        write_disposition="merge",
    )
    def rows(items: list[FileItemDict]) -> Iterator[list[dict[str, Any]]]:
        for item in items:
            yield read_delimited(item.read_bytes(), item["file_name"], table)

    return files | rows


def read_delimited(content: bytes, file_name: str, table: FileTable) -> list[dict[str, Any]]:
    """Rows of one delimited file as strings, keyed by file and line so re-reads merge."""
    try:
        text = content.decode(table.encoding)
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise ValueError(
            f"{file_name}: line {line} is not valid {table.encoding} — check the `encoding` "
            f"of table {table.name!r}"
        ) from None
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=table.delimiter)
    return [
        {**row, FILE_NAME_COLUMN: file_name, FILE_LINE_COLUMN: reader.line_num} for row in reader
    ]
