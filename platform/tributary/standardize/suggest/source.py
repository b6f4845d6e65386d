"""A whole source, from the warehouse: the raw tables it has loaded, a repeatable sample of each
profiled column by column, and the suggestions for each table against its existing mapping."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import duckdb

from tributary.contracts.dictionary import Dictionary, load_dictionary
from tributary.contracts.mapping import Mapping, mapping_path
from tributary.contracts.source import SourceSpec, load_specs
from tributary.contracts.specfile import SpecErrors, load_model
from tributary.identifiers import ident
from tributary.standardize.suggest.profiles import ColumnProfile, profile_values
from tributary.standardize.suggest.table import TableSuggestion, suggest_table

# Columns the platform adds to raw tables: never a source field.
PLATFORM_COLUMNS = {"_dlt_load_id", "_dlt_id", "_file_name", "_line"}
SAMPLE_SIZE = 200  # distinct values per column the value checks look at
PROFILE_ROWS = 50_000  # larger tables are profiled on a repeatable sample of this many rows


class SuggestError(Exception):
    """A problem the user fixes before suggestions can run: printed as one line."""


def raw_tables(con: duckdb.DuckDBPyConnection, schema: str) -> set[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = ?", [schema]
    ).fetchall()
    return {r[0] for r in rows}


def _source_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[tuple]:
    """(name, DuckDB type) of a raw table's columns, the platform's own left out."""
    return [
        (name, db_type)
        for name, db_type in con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, table],
        ).fetchall()
        if name not in PLATFORM_COLUMNS and not name.startswith("_dlt_")
    ]


def profile_table(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, sample_size: int = SAMPLE_SIZE
) -> list[ColumnProfile]:
    """Profiles of a raw table's source columns (the platform's own columns left out)."""
    columns = _source_columns(con, schema, table)
    if not columns:
        return []
    source = f"{ident(schema)}.{ident(table)}"
    (total,) = con.execute(f"select count(*) from {source}").fetchone()
    if total > PROFILE_ROWS:
        source = (
            f"(select * from {source} using sample reservoir({PROFILE_ROWS} rows) repeatable (42))"
        )
    counts = con.execute(
        "select count(*), "
        + ", ".join(f"count({ident(c)}), count(distinct {ident(c)})" for c, _ in columns)
        + f" from {source}"
    ).fetchone()
    profiles = []
    for i, (name, db_type) in enumerate(columns):
        col = ident(name)
        values = con.execute(
            f"select v from (select distinct cast({col} as varchar) as v from {source} "
            f"where {col} is not null) order by hash(v), v limit ?",
            [sample_size],
        ).fetchall()
        profiles.append(
            profile_values(
                name,
                db_type,
                [v for (v,) in values],
                rows=counts[0],
                nulls=counts[0] - counts[1 + 2 * i],
                distinct=counts[2 + 2 * i],
            )
        )
    return profiles


@dataclass(frozen=True)
class SourceSuggestions:
    spec: SourceSpec
    dictionary: Dictionary
    path: Path  # the mapping file
    existing: Mapping | None
    tables: list[TableSuggestion]
    not_loaded: list[str]  # tables of the source file with no raw table yet


def read_existing(path: Path) -> Mapping | None:
    """The mapping file as it is, if any; structural mistakes stop here (file, line, fix)."""
    if not path.exists():
        return None
    try:
        mapping, _ = load_model(path, Mapping)
    except SpecErrors as exc:
        raise SuggestError(
            str(exc.errors[0])
            + (f" (and {len(exc.errors) - 1} more)" if len(exc.errors) > 1 else "")
        ) from None
    return mapping


def _source_spec(sources_dir: Path, source: str, specs: dict[str, SourceSpec]) -> SourceSpec:
    spec = specs.get(source)
    if spec is None:
        close = difflib.get_close_matches(source, list(specs), n=1)
        hint = f"did you mean `{close[0]}`?" if close else f"one of: {', '.join(sorted(specs))}"
        raise SuggestError(f"no source {source!r} in {sources_dir} — {hint}")
    return spec


def _open_warehouse(warehouse: Path, spec: SourceSpec) -> duckdb.DuckDBPyConnection:
    """The warehouse, read only; a missing or locked file is a one-line error."""
    if not warehouse.exists():
        raise SuggestError(
            f"no warehouse at {warehouse} yet — load the {spec.name} source first: "
            f"`tributary run {spec.name} --only ingest`"
        )
    try:
        return duckdb.connect(str(warehouse), read_only=True)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise SuggestError(
                f"{warehouse} is locked by a running load — try again when it has finished"
            ) from None
        raise SuggestError(f"cannot open {warehouse}: {str(exc).splitlines()[0]}") from None


def _missing(
    con: duckdb.DuckDBPyConnection, spec: SourceSpec, table: str | None, wanted: list[str]
) -> list[str]:
    """The wanted tables not loaded yet; none loaded at all is an error."""
    loaded = raw_tables(con, spec.dataset)
    missing = [t for t in wanted if t not in loaded]
    if len(missing) == len(wanted):
        what = f"{spec.dataset}.{table}" if table else f"{spec.dataset}"
        raise SuggestError(
            f"{what} is not loaded yet — load the {spec.name} source first "
            f"(`tributary run {spec.name} --only ingest`), then suggest"
        )
    return missing


def suggest_source(
    sources_dir: Path,
    warehouse: Path,
    source: str,
    table: str | None = None,
    dictionary: Dictionary | None = None,
) -> SourceSuggestions:
    """Suggestions for a source's loaded tables (or one of them), read from the warehouse."""
    try:
        specs = {s.name: s for s in load_specs(sources_dir)}
        dictionary = dictionary or load_dictionary(sources_dir)
    except SpecErrors as exc:
        raise SuggestError(f"{exc.errors[0]} — run `tributary validate`") from None
    spec = _source_spec(sources_dir, source, specs)
    tables = spec.table_names()
    if table is not None and table not in tables:
        raise SuggestError(f"{source} has no table {table!r} — one of: {', '.join(tables)}")
    path = mapping_path(sources_dir, source)
    existing = read_existing(path)
    con = _open_warehouse(warehouse, spec)
    try:
        wanted = [table] if table else tables
        missing = _missing(con, spec, table, wanted)
        results = []
        for name in wanted:
            if name in missing:
                continue
            profiles = profile_table(con, spec.dataset, name)
            current = existing.tables.get(name) if existing else None
            results.append(suggest_table(source, name, profiles, dictionary, current, spec.naming))
    finally:
        con.close()
    return SourceSuggestions(spec, dictionary, path, existing, results, missing)
