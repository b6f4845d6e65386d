"""The quality scorecard: how complete, valid, unique and timely each source's records of each
entity are, scored after every build and kept over time.

One row per (entity, source) pair: a source feeds an entity through one or more mapped tables
(``generate.mapped_tables``), each read from its staging view. The four measures, each a
double in [0, 1] (null when the source delivered no rows, so there is nothing to score):

- completeness = non-null values / (staging rows × fields the source maps), over the entity's
  fields this source's mapping fills (a field the source does not send is not its fault);
- validity = 1 − staging rows held in ``quality.quarantine_<entity>`` / staging rows. A row is
  counted once however many blocking rules it breaks, and only while it is still delivered
  (a quarantined row whose record is no longer in staging no longer counts);
- uniqueness = distinct source ids / staging rows: every re-delivery of a record lowers it;
- timeliness = 1 while the last successful load of the pair's raw tables is at most
  ``warn_after`` old, 0 from ``block_after`` on, and linear in between:
  ``(block_after − age) / (block_after − warn_after)``, with the source's declared
  ``freshness`` (24 h and 72 h when it declares none). The age of a pair is that of its
  stalest table (the same last load the freshness checks judge); never loaded scores 0.

Why here and not in dbt: timeliness comes from the Dagster instance (when each raw asset last
materialized), not from timestamps inside the data, and the scores must land in the UI as
metadata that Dagster plots over materializations.
"""

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
import duckdb
from pydantic import TypeAdapter, ValidationError

from tributary.contracts.dictionary import Dictionary
from tributary.contracts.mapping import SourceMapping
from tributary.contracts.resolved import MappedTable, load_mappings_for, mapped_tables
from tributary.graph import table_metadata
from tributary.identifiers import ident
from tributary.quality.freshness import last_load
from tributary.settings import Settings
from tributary.warehouse import Warehouse

SCHEMA = "quality"
CURRENT_TABLE = "scorecard"
HISTORY_TABLE = "scorecard_history"
MEASURES = ("completeness", "validity", "uniqueness", "timeliness")

# The columns of quality.scorecard (and quality.scorecard_history): type and description.
SCORECARD_COLUMNS: dict[str, tuple[str, str]] = {
    "scored_at": ("timestamp", "When these scores were computed (UTC)."),
    "entity": ("varchar", "The dictionary entity scored."),
    "source": ("varchar", "The source system whose records of the entity are scored."),
    "source_tables": ("varchar", "The source's tables mapped onto the entity, comma-separated."),
    "staging_rows": ("bigint", "Records the source delivered (staging rows, re-deliveries too)."),
    "distinct_records": ("bigint", "Distinct records among them (by the source's own id)."),
    "quarantined_rows": (
        "bigint",
        "Delivered rows held in quarantine for breaking a blocking rule (each counted once).",
    ),
    "conformed_rows": (
        "bigint",
        "Canonical records of the entity this source contributes to (null before conforming).",
    ),
    "mapped_fields": ("integer", "Canonical fields of the entity the source's mapping fills."),
    "completeness": (
        "double",
        "Share of non-null values over the fields the source maps, in [0, 1].",
    ),
    "validity": ("double", "Share of delivered rows not quarantined, in [0, 1]."),
    "uniqueness": (
        "double",
        "Distinct records / delivered rows, in [0, 1]: re-deliveries lower it.",
    ),
    "timeliness": (
        "double",
        "1 while the last load is within warn_after, falling linearly to 0 at block_after.",
    ),
    "last_loaded_at": (
        "timestamp",
        "Last successful load of the source's stalest mapped table (UTC); null if never.",
    ),
    "hours_since_load": ("double", "Hours from last_loaded_at to scored_at."),
    "warn_after_hours": ("double", "The source's declared freshness: timely up to this age."),
    "block_after_hours": (
        "double",
        "The source's declared freshness: not timely from this age (3 × warn_after if unset).",
    ),
}


# --- freshness and timeliness -----------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """The ages between which a source's timeliness falls from 1 to 0."""

    warn_after: timedelta
    block_after: timedelta


DEFAULT_WINDOW = Window(timedelta(hours=24), timedelta(hours=72))
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(value: object) -> timedelta | None:
    """``26h``, ``30m``, ``3d``, ``PT26H``, a timedelta or seconds; None when not a duration."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str) and (match := _DURATION.match(value)):
        return timedelta(**{_UNIT[match[2].lower()]: float(match[1])})
    try:
        return TypeAdapter(timedelta).validate_python(value)
    except ValidationError:
        return None


def _bound(declared: object, name: str) -> timedelta | None:
    if isinstance(declared, dict):
        return parse_duration(declared.get(name))
    # the source spec's Freshness model parses its own durations (warn_delta, block_delta)
    parsed = getattr(declared, name.replace("_after", "_delta"), None)
    return (
        parsed if isinstance(parsed, timedelta) else parse_duration(getattr(declared, name, None))
    )


def source_window(spec: object) -> Window:
    """A source's declared ``freshness`` (warn_after, block_after), read defensively.

    Without a declaration: 24 h and 72 h. Without block_after (the freshness check then only
    ever warns) timeliness still needs an end: three times warn_after.
    """
    declared = getattr(spec, "freshness", None)
    warn, block = _bound(declared, "warn_after"), _bound(declared, "block_after")
    if warn is None and block is None:
        return DEFAULT_WINDOW
    if warn is None:
        warn = min(DEFAULT_WINDOW.warn_after, block)
    return Window(warn, block if block is not None else warn * 3)


def timeliness(age: timedelta | None, window: Window) -> float:
    """1 up to warn_after, 0 from block_after, linear in between; never loaded: 0."""
    if age is None:
        return 0.0
    if age <= window.warn_after:
        return 1.0
    if age >= window.block_after:
        return 0.0
    return (window.block_after - age) / (window.block_after - window.warn_after)


# --- what is scored ---------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """One source's records of one entity: the unit a scorecard row is for."""

    entity: str
    source: str
    tables: tuple[MappedTable, ...]
    window: Window

    @property
    def raw_keys(self) -> list[dg.AssetKey]:
        return [dg.AssetKey([t.source.spec.dataset, t.table]) for t in self.tables]


def mapped_fields(table: MappedTable) -> list[str]:
    """The entity's fields (in dictionary order) this table's mapping fills."""
    targets = {f.to for f in table.mapping.field_maps().values()}
    return [name for name in table.entity.fields if name in targets]


def scorecard_pairs(dictionary: Dictionary, mappings: Sequence[SourceMapping]) -> list[Pair]:
    grouped: dict[tuple[str, str], list[MappedTable]] = {}
    for table in mapped_tables(mappings, dictionary):
        grouped.setdefault((table.entity_name, table.source.name), []).append(table)
    return [
        Pair(entity, source, tuple(tables), source_window(tables[0].source.spec))
        for (entity, source), tables in sorted(grouped.items())
    ]


def conformed_key(entity: str) -> dg.AssetKey:
    return dg.AssetKey(["intermediate", f"int_{entity}__conformed"])


def quarantine_key(entity: str) -> dg.AssetKey:
    return dg.AssetKey([SCHEMA, f"quarantine_{entity}"])


# --- measuring --------------------------------------------------------------------------


def _relation(schema: str, name: str) -> str:
    return f"{ident(schema)}.{ident(name)}"


def _columns(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> set[str] | None:
    """The columns of a table or view, or None when it does not exist."""
    rows = con.execute(
        "select column_name from information_schema.columns "
        "where table_catalog = current_database() and table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchall()
    return {r[0] for r in rows} or None


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


@dataclass
class Counts:
    rows: int = 0
    distinct: int = 0
    quarantined: int = 0
    non_null: int = 0
    cells: int = 0


def measure_table(con: duckdb.DuckDBPyConnection, table: MappedTable) -> Counts:
    """Rows, distinct ids, quarantined rows and filled cells of one staging view."""
    columns = _columns(con, "staging", table.model)
    if columns is None:
        return Counts()
    staged = _relation("staging", table.model)
    fields = mapped_fields(table)  # a field missing from the view counts as empty
    filled = " + ".join(f"count({ident(f)})" for f in fields if f in columns) or "0"
    rows, distinct, non_null = con.execute(
        f"select count(*), count(distinct _source_id), {filled} from {staged}"
    ).fetchone()
    quarantined = 0
    quarantine = f"quarantine_{table.entity_name}"
    if _columns(con, SCHEMA, quarantine) is not None:
        quarantined = con.execute(
            f"select count(*) from {staged} where _record_id in ("
            f"select record_id from {_relation(SCHEMA, quarantine)} "
            "where source = ? and source_table = ?)",
            [table.source.name, table.table],
        ).fetchone()[0]
    return Counts(rows, distinct, quarantined, non_null, rows * len(fields))


def conformed_rows(con: duckdb.DuckDBPyConnection, entity: str, source: str) -> int | None:
    """Canonical records the source contributes to, from the conformed model's ``_sources``."""
    name = f"int_{entity}__conformed"
    columns = _columns(con, "intermediate", name)
    if columns is None or "_sources" not in columns:
        return None
    return con.execute(
        f"select count(*) from {_relation('intermediate', name)} where list_contains(_sources, ?)",
        [source],
    ).fetchone()[0]


def score_pair(
    con: duckdb.DuckDBPyConnection,
    pair: Pair,
    last_loads: dict[dg.AssetKey, datetime | None],
    now: datetime,
) -> dict[str, Any]:
    """One scorecard row: the figures of every table of the pair, added up."""
    total = Counts()
    for table in pair.tables:
        counts = measure_table(con, table)
        for name in ("rows", "distinct", "quarantined", "non_null", "cells"):
            setattr(total, name, getattr(total, name) + getattr(counts, name))
    loads = [last_loads.get(k) for k in pair.raw_keys]
    last_loaded = None if any(t is None for t in loads) else min(loads)
    age = now - last_loaded if last_loaded else None
    fields = sorted({f for t in pair.tables for f in mapped_fields(t)})
    return {
        "scored_at": now.astimezone(UTC).replace(tzinfo=None),
        "entity": pair.entity,
        "source": pair.source,
        "source_tables": ", ".join(t.table for t in pair.tables),
        "staging_rows": total.rows,
        "distinct_records": total.distinct,
        "quarantined_rows": total.quarantined,
        "conformed_rows": conformed_rows(con, pair.entity, pair.source),
        "mapped_fields": len(fields),
        "completeness": _ratio(total.non_null, total.cells),
        "validity": 1 - total.quarantined / total.rows if total.rows else None,
        "uniqueness": _ratio(total.distinct, total.rows),
        "timeliness": timeliness(age, pair.window),
        "last_loaded_at": last_loaded.astimezone(UTC).replace(tzinfo=None) if last_loaded else None,
        "hours_since_load": age / timedelta(hours=1) if age is not None else None,
        "warn_after_hours": pair.window.warn_after / timedelta(hours=1),
        "block_after_hours": pair.window.block_after / timedelta(hours=1),
        # not stored: what summarize() adds up across pairs
        "_filled_cells": total.non_null,
        "_cells": total.cells,
    }


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Completeness, validity and uniqueness over all the rows' records together, timeliness
    of the stalest; measures with nothing to score are left out."""
    staged = sum(r["staging_rows"] for r in rows)
    out = {
        "completeness": _ratio(
            sum(r["_filled_cells"] for r in rows), sum(r["_cells"] for r in rows)
        ),
        "validity": 1 - sum(r["quarantined_rows"] for r in rows) / staged if staged else None,
        "uniqueness": _ratio(sum(r["distinct_records"] for r in rows), staged),
        "timeliness": min((r["timeliness"] for r in rows), default=None),
    }
    return {k: float(v) for k, v in out.items() if v is not None}


# --- writing ----------------------------------------------------------------------------


def write_scorecard(con: duckdb.DuckDBPyConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Replace quality.scorecard and append the same rows to quality.scorecard_history, in one
    transaction: the history never holds a score the current table did not show."""
    current, history = _relation(SCHEMA, CURRENT_TABLE), _relation(SCHEMA, HISTORY_TABLE)
    columns = ", ".join(f"{ident(n)} {t}" for n, (t, _) in SCORECARD_COLUMNS.items())
    con.execute(f"create schema if not exists {ident(SCHEMA)}")
    con.execute("begin")
    try:
        con.execute(f"create or replace table {current} ({columns})")
        if rows:
            con.executemany(
                f"insert into {current} values ({', '.join('?' * len(SCORECARD_COLUMNS))})",
                [[r[n] for n in SCORECARD_COLUMNS] for r in rows],
            )
        con.execute(f"create table if not exists {history} ({columns})")
        # A column added to the scorecard later joins the history (older rows: null).
        kept = _columns(con, SCHEMA, HISTORY_TABLE) or set()
        for name, (type_, _) in SCORECARD_COLUMNS.items():
            if name not in kept:
                con.execute(f"alter table {history} add column {ident(name)} {type_}")
        con.execute(f"insert into {history} by name select * from {current}")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


# --- the UI -----------------------------------------------------------------------------

_SHOWN = (
    "entity", "source", "staging_rows", "quarantined_rows", "completeness", "validity",
    "uniqueness", "timeliness", "hours_since_load",
)  # fmt: skip
_TABLE_TYPES = {"varchar": "string", "bigint": "int", "integer": "int", "double": "float"}


def scorecard_table(rows: Sequence[dict[str, Any]]) -> dg.TableMetadataValue:
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn(
                name,
                type=_TABLE_TYPES.get(SCORECARD_COLUMNS[name][0], "string"),
                description=SCORECARD_COLUMNS[name][1],
            )
            for name in _SHOWN
        ]
    )
    records = [
        dg.TableRecord({n: round(r[n], 4) if isinstance(r[n], float) else r[n] for n in _SHOWN})
        for r in rows
    ]
    return dg.MetadataValue.table(records, schema=schema)


def scorecard_metadata(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The table of every pair, and one float per entity and measure for Dagster's plots."""
    metadata: dict[str, Any] = {
        "scorecard": scorecard_table(rows),
        "dagster/row_count": len(rows),
        "pairs_scored": len(rows),
    }
    for measure, value in summarize(rows).items():
        metadata[f"overall/{measure}"] = dg.MetadataValue.float(value)
    for entity in sorted({r["entity"] for r in rows}):
        entity_rows = [r for r in rows if r["entity"] == entity]
        for measure, value in summarize(entity_rows).items():
            metadata[f"{entity}/{measure}"] = dg.MetadataValue.float(value)
    return metadata


def _utc_now() -> datetime:
    return datetime.now(UTC)


SCORECARD_DESCRIPTION = (
    "How much each source's records of each entity can be trusted, one row per "
    "entity and source, scored after every build; every score is also appended to "
    f"{SCHEMA}.{HISTORY_TABLE} with its time, to follow it over time. All four "
    "measures run from 0 (worst) to 1 (best):\n\n"
    "- **completeness**: share of filled values in the fields the source sends;\n"
    "- **validity**: share of delivered rows that passed the blocking rules (the "
    f"others wait in {SCHEMA}.quarantine_<entity>);\n"
    "- **uniqueness**: distinct records / delivered rows (re-deliveries lower it);\n"
    "- **timeliness**: 1 while the last successful load is within the source's "
    "declared `warn_after`, falling linearly to 0 at `block_after` (24 h and 72 h "
    "unless the source declares its own).\n\n"
    "The materialization shows the whole table; the plots show each entity's "
    "measures (e.g. `employee/validity`) over time."
)


def build_scorecard_assets(
    settings: Settings,
    available: Collection[dg.AssetKey] | None = None,
    clock: Callable[[], datetime] = _utc_now,
) -> list[dg.AssetsDefinition]:
    """The ``quality/scorecard`` asset.

    ``available``: the asset keys defined beside it; the asset depends only on the conformed
    and quarantine keys among them (all of them when None). ``clock``: "now", for tests.
    """
    dictionary, mappings = load_mappings_for(settings)
    pairs = scorecard_pairs(dictionary, mappings)
    entities = sorted({p.entity for p in pairs})
    upstream = [conformed_key(e) for e in entities] + [quarantine_key(e) for e in entities]
    defined = None if available is None else set(available)
    deps = [k for k in upstream if defined is None or k in defined]

    @dg.asset(
        key=[SCHEMA, CURRENT_TABLE],
        deps=deps,
        group_name="quality",
        kinds={"duckdb"},
        description=SCORECARD_DESCRIPTION,
        metadata=table_metadata(
            f"{settings.warehouse.stem}.{SCHEMA}.{CURRENT_TABLE}", SCORECARD_COLUMNS
        ),
    )
    def scorecard(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        now = clock()
        last_loads: dict[dg.AssetKey, datetime | None] = {}
        for pair in pairs:
            for key in pair.raw_keys:
                last_loads[key], _ = last_load(context.instance, key)
        with warehouse.connect() as con:
            rows = [score_pair(con, pair, last_loads, now) for pair in pairs]
            write_scorecard(con, rows)
        unscored = [f"{r['entity']}/{r['source']}" for r in rows if not r["staging_rows"]]
        if unscored:
            context.log.warning(f"no staged rows to score for {', '.join(unscored)}")
        return dg.MaterializeResult(metadata=scorecard_metadata(rows))

    return [scorecard]
