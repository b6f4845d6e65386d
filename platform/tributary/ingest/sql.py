"""SQL database sources: tables, same-shaped shards unioned into one, incremental by cursor.

Any database SQLAlchemy reaches (PostgreSQL, MySQL/MariaDB, SQLite, …). Reads go through
dlt's ``sql_table`` with an Arrow backend: batches, bounded memory, no per-row Python.
"""

from collections.abc import Iterator
from fnmatch import fnmatchcase
from typing import Any, Literal

import dlt
import pyarrow as pa
import sqlalchemy as sa
from dlt.sources.sql_database import sql_table
from pydantic import Field, model_validator

from tributary.specfile import Strict

SOURCE_TABLE_COLUMN = "_source_table"  # which shard a row came from
TABLE_NAME = r"^[a-z][a-z0-9_]*$"


class SqlTable(Strict):
    """One target table: a source table, or same-shaped shards unioned into one."""

    name: str = Field(pattern=TABLE_NAME, description="Target table name in raw_<source>.")
    table: str | None = Field(None, description="Source table; defaults to `name`.")
    shards: str | None = Field(
        None,
        description="Glob of same-shaped source tables (e.g. `orders_[0-9]*`) loaded into one "
        "table; column `_source_table` says where each row came from.",
    )
    primary_key: str | list[str] | None = None
    incremental: str | None = Field(None, description="Cursor column (e.g. `updated_at`).")
    initial_value: Any = None

    @model_validator(mode="after")
    def _table_or_shards(self) -> "SqlTable":
        if self.table and self.shards:
            raise ValueError("give either `table` or `shards`, not both")
        return self


class SqlDatabase(Strict):
    credentials: str = Field(description="SQLAlchemy URL, usually `${SOME_ENV_VAR}`.")
    schema_: str | None = Field(None, alias="schema")
    backend: Literal["pyarrow", "sqlalchemy", "pandas", "connectorx"] = "pyarrow"
    chunk_size: int = 50_000
    tables: list[SqlTable] = Field(min_length=1)


def sql_resources(db: SqlDatabase) -> list[Any]:
    """One dlt resource per target table."""
    return [_sql_resource(db, table) for table in db.tables]


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
