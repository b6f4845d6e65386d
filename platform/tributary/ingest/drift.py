"""Schema drift of a source, read from what dlt recorded in the warehouse.

dlt stores each version of a source's schema in ``raw_<source>._dlt_version`` and the version
each load used in ``_dlt_loads``. Comparing the newest load's schema with the previous load's
tells which columns are new and which became variant columns (a type change: dlt writes
``amount__v_text`` beside ``amount``). Vanished columns are those the newest load left
entirely empty although earlier loads mostly filled them; tables loaded by ``replace`` keep no
earlier rows, so there vanished columns cannot be told.
"""

import json
from dataclasses import dataclass, field

import duckdb

from tributary.identifiers import ident

DLT_COLUMN_PREFIX = "_dlt"
# A column counts as vanished when a load of at least this many rows left it empty although
# at least half the earlier rows had it: a few new rows of a sparse column are no signal.
MIN_ROWS_FOR_VANISHED = 10


@dataclass
class TableDrift:
    new_columns: list[str] = field(default_factory=list)
    type_changes: list[str] = field(default_factory=list)  # variant columns, e.g. amount__v_text
    vanished_columns: list[str] = field(default_factory=list)

    @property
    def needs_attention(self) -> bool:
        """New columns flow through; changed types and vanished columns need a person."""
        return bool(self.type_changes or self.vanished_columns)


def _schemas(con: duckdb.DuckDBPyConnection, dataset: str) -> list[dict]:
    """The schema of the newest load and of the load before it (one if they are the same)."""
    present = {
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = ?", [dataset]
        ).fetchall()
    }
    if not {"_dlt_version", "_dlt_loads"} <= present:
        return []
    hashes = [
        r[0]
        for r in con.execute(
            f'select schema_version_hash from "{dataset}"._dlt_loads where status = 0 '
            "order by inserted_at desc limit 2"
        ).fetchall()
    ]
    schemas = []
    for version_hash in dict.fromkeys(hashes):  # distinct, newest first
        row = con.execute(
            f'select schema from "{dataset}"._dlt_version where version_hash = ?', [version_hash]
        ).fetchone()
        if row:
            schemas.append(json.loads(row[0]))
    return schemas


def _user_columns(schema: dict, table: str) -> dict[str, dict]:
    columns = schema.get("tables", {}).get(table, {}).get("columns", {})
    return {n: c for n, c in columns.items() if not n.startswith(DLT_COLUMN_PREFIX)}


def _vanished(
    con: duckdb.DuckDBPyConnection, dataset: str, table: str, columns: list[str]
) -> list[str]:
    """Columns the newest load left empty that earlier loads had filled."""
    has_load_id = con.execute(
        "select count(*) from information_schema.columns "
        "where table_schema = ? and table_name = ? and column_name = '_dlt_load_id'",
        [dataset, table],
    ).fetchone()[0]
    if not columns or not has_load_id:
        return []
    quoted = [ident(c) for c in columns]
    relation = f"{ident(dataset)}.{ident(table)}"
    latest = f"(select max(_dlt_load_id) from {relation})"
    counts = ", ".join(
        f"count({q}) filter (where _dlt_load_id = {latest}), "
        f"count({q}) filter (where _dlt_load_id <> {latest})"
        for q in quoted
    )
    row = con.execute(
        f"select count(*) filter (where _dlt_load_id = {latest}), "
        f"count(*) filter (where _dlt_load_id <> {latest}), {counts} "
        f"from {relation}"
    ).fetchone()
    rows_now, rows_before = row[0], row[1]
    if rows_now < MIN_ROWS_FOR_VANISHED or not rows_before:
        return []  # too few new rows to tell an empty column from a sparse one
    pairs = zip(row[2::2], row[3::2], strict=True)
    return [
        c
        for c, (now, before) in zip(columns, pairs, strict=True)
        if now == 0 and before / rows_before >= 0.5
    ]


def schema_drift(
    con: duckdb.DuckDBPyConnection, dataset: str, tables: list[str]
) -> dict[str, TableDrift]:
    """Drift per table between the schema of the newest load and of the load before it."""
    versions = _schemas(con, dataset)
    if not versions:
        return {t: TableDrift() for t in tables}
    newest, previous = versions[0], versions[1] if len(versions) > 1 else None
    existing = {
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = ?", [dataset]
        ).fetchall()
    }
    result = {}
    for table in tables:
        now = _user_columns(newest, table)
        before = _user_columns(previous, table) if previous else now
        added = [c for c in now if c not in before]
        loaded = [c for c in now if c in before]
        result[table] = TableDrift(
            new_columns=[c for c in added if not now[c].get("variant")],
            type_changes=[c for c in added if now[c].get("variant")],
            vanished_columns=_vanished(con, dataset, table, loaded) if table in existing else [],
        )
    return result
