"""The ``sql_database`` section of a source file: tables, shards, queries or a whole database.

What each key means for a load is in ``ingest/kinds/sql_database``; this is the file format.
"""

from fnmatch import fnmatchcase
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from tributary.contracts.columns import COLUMNS_DESCRIPTION, Columns
from tributary.contracts.database_url import database_url
from tributary.contracts.load_mode import LoadMode, load_mode
from tributary.contracts.specfile import NAME_PATTERN, Identifier, Strict

DeleteMode = Literal["hard", "soft"]
DELETED_COLUMN = "_deleted"  # the marker when no `deleted_flag` column is declared
SOURCE_TABLE_COLUMN = "_source_table"  # which shard a row came from


class SqlTable(Strict):
    """One target table: a source table, same-shaped shards unioned into one, or a query."""

    name: str = Field(pattern=NAME_PATTERN, description="Target table name in raw_<source>.")
    table: Identifier | None = Field(None, description="Source table; defaults to `name`.")
    shards: Identifier | None = Field(
        None,
        description="Glob of same-shaped source tables (e.g. `orders_[0-9]*`) loaded into one "
        "table; column `_source_table` says where each row came from.",
    )
    query: str | None = Field(
        None, description="A SELECT whose result is the table; `incremental` filters its result."
    )
    primary_key: Identifier | list[Identifier] | None = None
    incremental: Identifier | None = Field(None, description="Cursor column (e.g. `updated_at`).")
    initial_value: Any = None
    columns: Columns = Field({}, description=COLUMNS_DESCRIPTION)
    load: LoadMode | None = Field(
        None,
        description="append, replace, merge or scd2. Default: merge with a primary_key, append "
        "with only `incremental`, else replace. Never append with a primary_key.",
    )
    deleted_flag: Identifier | None = Field(
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
        return load_mode(self.load, self.primary_key, bool(self.incremental))

    @property
    def marker(self) -> str | None:
        """The column that marks deleted rows, if deletes are handled at all."""
        return self.deleted_flag or (DELETED_COLUMN if self.detect_deletes else None)

    @model_validator(mode="after")
    def _consistent(self) -> "SqlTable":
        given = [k for k in ("table", "shards", "query") if getattr(self, k)]
        if len(given) > 1:
            raise ValueError(f"give one of `table`, `shards` or `query`, not {' and '.join(given)}")
        # A merge without a key, or an append with one, is an error.
        load_mode(self.load, self.primary_key, bool(self.incremental))
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
    incremental: Identifier | None = Field(
        None, description="Cursor column given to each discovered table that has it."
    )

    def matches(self, name: str) -> bool:
        return any(fnmatchcase(name, p) for p in self.include) and not any(
            fnmatchcase(name, p) for p in self.exclude
        )


class SqlDatabase(Strict):
    credentials: str = Field(
        description="SQLAlchemy URL, usually `${SOME_ENV_VAR}`; plain schemes (postgresql://, "
        "postgres://, mysql://, mariadb://, sqlite:///) get the installed driver."
    )
    schema_: Identifier | None = Field(None, alias="schema")
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
    # The raw columns that place a row in its delivery (see contracts/filesystem.py): none.
    ROW_POSITION: ClassVar[dict[str, str]] = {}

    def table_names(self) -> list[str]:
        return [t.name for t in self.tables]

    @field_validator("credentials")
    @classmethod
    def _driver_installed(cls, value: str) -> str:
        # Resolved ``${VARS}`` are validated again (``resolve_env``): every load sees this.
        return database_url(value)

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
            raise ValueError(
                f"table name(s) given twice: {', '.join(twice)}: give each table its own `name`"
            )
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


def matching_tables(names: list[str], table: SqlTable) -> list[str]:
    """Source tables that feed one target table: the named table, or every matching shard."""
    if table.query:
        return []
    if table.shards:
        return sorted(n for n in names if fnmatchcase(n, table.shards))
    wanted = table.table or table.name
    return [n for n in names if n == wanted]
