"""Volume of raw tables: a load that brought far fewer rows than usual.

What "usual" means depends on how dlt writes the table (its write disposition, recorded in
the dlt schema of the load):

- **replace** (every load is the whole table): the rows of the newest load (``rows_loaded``
  in the materialization's metadata) against the median of the previous loads, and the
  table's size against its size after the previous loads; under ``LOAD_MIN_SHARE`` (a fifth)
  of either warns. A full extract that comes back that small lost data on the way; full
  extracts do vary, so a smaller dip is left alone.
- **merge / append** (incremental: a load brings only what changed): the size of a load says
  nothing — a quiet day brings five rows, a backfill fifty thousand. What must not happen is
  the *table* shrinking: its row count in the warehouse now against the median of the counts
  this check recorded after the previous loads, warning under ``TABLE_MIN_SHARE``. An
  incrementally loaded table only grows, save for deletes; losing a fifth of it at once is no
  ordinary delete (a replace by mistake, a dropped dataset, a purge at the source).

Either way the usual volume is judged only once there are ``MIN_PREVIOUS`` earlier points and
it is at least ``MIN_USUAL_ROWS``: below that, ordinary noise looks like a collapse. The table
sizes are the check's own memory: each evaluation records ``table_rows`` in its metadata, and
Dagster keeps every evaluation.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import dagster as dg
import duckdb
import pandas as pd

LOAD_MIN_SHARE = 0.2  # a full load below this share of the usual rows warns
TABLE_MIN_SHARE = 0.8  # an incremental table below this share of its usual size warns
MIN_USUAL_ROWS = 50  # a smaller usual volume is too noisy to judge
MIN_PREVIOUS = 3  # earlier loads (or counts) needed before anything is judged
WINDOW = 10  # the latest earlier loads (or counts) the usual volume is taken over
FULL_LOAD = "replace"
TABLE_ROWS = "table_rows"  # the metadata key under which each evaluation records the count


@dataclass(frozen=True)
class Load:
    """One materialization of a raw table: when, and how many rows dlt loaded (None: the
    event does not say)."""

    timestamp: float
    rows_loaded: int | None
    run_id: str = ""


@dataclass(frozen=True)
class Signal:
    """One comparison of a volume with its usual value."""

    name: str
    passed: bool
    reason: str
    value: int | None
    usual: float | None
    points: int


@dataclass(frozen=True)
class VolumeVerdict:
    rule: str
    signals: list[Signal]

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.signals)

    @property
    def reason(self) -> str:
        return "; ".join(f"{s.name}: {s.reason}" for s in self.signals)


def compare(name: str, value: int | None, series: Sequence[int], share: float) -> Signal:
    """``value`` against the median of ``series`` (earlier points, newest first)."""
    series = list(series[:WINDOW])
    if value is None:
        return Signal(name, True, "not recorded", None, None, len(series))
    if len(series) < MIN_PREVIOUS:
        reason = f"{len(series)} earlier point(s); {MIN_PREVIOUS} needed to know the usual"
        return Signal(name, True, reason, value, None, len(series))
    usual = float(statistics.median(series))
    if usual < MIN_USUAL_ROWS:
        reason = f"usual {usual:,.0f} rows is below {MIN_USUAL_ROWS}: too small to judge"
        return Signal(name, True, reason, value, usual, len(series))
    if value < share * usual:
        reason = (
            f"{value:,}, {value / usual:.0%} of the usual {usual:,.0f} (warns below {share:.0%})"
        )
        return Signal(name, False, reason, value, usual, len(series))
    return Signal(
        name, True, f"{value:,} against the usual {usual:,.0f}", value, usual, len(series)
    )


def judge(
    disposition: str | None,
    loads: Sequence[Load],
    table_rows: int | None,
    previous_table_rows: Sequence[int],
) -> VolumeVerdict:
    """The verdict on the newest load. ``loads``: newest first, the newest being the load
    judged; ``previous_table_rows``: counts recorded by earlier evaluations, newest first.

    A full load is judged on its own rows and on the table's size (both at
    ``LOAD_MIN_SHARE``): the size history also catches a table loaded incrementally until a
    replace by mistake. An incremental load is judged on the table's size only, at
    ``TABLE_MIN_SHARE``; an unknown disposition counts as incremental, so a small load of it
    is never an alarm.
    """
    signals = []
    if disposition == FULL_LOAD:
        rule = "full load"
        newest = loads[0].rows_loaded if loads else None
        earlier = [x.rows_loaded for x in loads[1:] if x.rows_loaded is not None]
        signals.append(compare("rows loaded", newest, earlier, LOAD_MIN_SHARE))
        signals.append(compare("table rows", table_rows, previous_table_rows, LOAD_MIN_SHARE))
    else:
        rule = "incremental load: only the table's size is judged"
        signals.append(compare("table rows", table_rows, previous_table_rows, TABLE_MIN_SHARE))
    return VolumeVerdict(rule, signals)


def rows_loaded(metadata: dict) -> int | None:
    """Rows a dlt load wrote to the table, when its materialization says (dagster-dlt leaves
    ``rows_loaded`` out when it cannot count them, e.g. for Arrow loads of SQL tables, and
    when a load wrote none: either way the table-size signal still judges the load)."""
    value = metadata.get("rows_loaded")
    return None if value is None else int(getattr(value, "value", value))


def recent_loads(instance: dg.DagsterInstance, key: dg.AssetKey, limit: int) -> list[Load]:
    """The newest materializations of a raw table, newest first."""
    records = instance.fetch_materializations(key, limit=limit).records
    return [
        Load(r.timestamp, rows_loaded(dict(r.asset_materialization.metadata)), r.run_id)
        for r in records
        if r.asset_materialization is not None
    ]


def recorded_table_rows(
    instance: dg.DagsterInstance, check_key: dg.AssetCheckKey, limit: int
) -> list[int]:
    """The table counts earlier evaluations of this check recorded, newest first.

    Dagster keeps every evaluation with its metadata; the check's own history is the table's
    size history, so nothing else has to store it.
    """
    records = instance.event_log_storage.get_asset_check_execution_history(check_key, limit)
    counts = []
    for record in records:
        evaluation = record.event.asset_check_evaluation if record.event else None
        entry = evaluation.metadata.get(TABLE_ROWS) if evaluation else None
        value = getattr(entry, "value", entry)
        if value is not None:  # None: the table did not exist then
            counts.append(int(value))
    return counts


def write_disposition(con: duckdb.DuckDBPyConnection, dataset: str, table: str) -> str | None:
    """How dlt last wrote the table (replace, append, merge), from the newest schema it
    stored in the dataset; None when unknown."""
    present = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = ? and table_name = '_dlt_version'",
        [dataset],
    ).fetchone()[0]
    if not present:
        return None
    row = con.execute(
        f'select schema from "{dataset}"._dlt_version order by inserted_at desc limit 1'
    ).fetchone()
    table_schema = json.loads(row[0]).get("tables", {}).get(table, {}) if row else {}
    return table_schema.get("write_disposition")


def table_rows(con: duckdb.DuckDBPyConnection, dataset: str, table: str) -> int | None:
    present = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [dataset, table],
    ).fetchone()[0]
    if not present:
        return None
    return con.execute(f'select count(*) from "{dataset}"."{table}"').fetchone()[0]


def loads_table(loads: Sequence[Load]) -> str:
    """The recent loads as a markdown table, for the check's metadata."""
    frame = pd.DataFrame(
        {
            "loaded_at (UTC)": [
                pd.Timestamp(x.timestamp, unit="s").strftime("%Y-%m-%d %H:%M:%S") for x in loads
            ],
            "rows_loaded": ["—" if x.rows_loaded is None else f"{x.rows_loaded:,}" for x in loads],
            "run": [x.run_id[:8] for x in loads],
        }
    )
    return frame.to_markdown(index=False, disable_numparse=True)
