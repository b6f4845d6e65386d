"""Distributions of numeric fields: statistics kept over time, and robust z-scores.

A robust z-score measures how far a value is from the median in units of the median absolute
deviation (MAD), scaled by 1.4826 so that it equals the ordinary z-score on normal data. Unlike
the mean and the standard deviation, median and MAD are not dragged along by the very outliers
they are meant to find.

Two uses:

- **Shift against history**: each build's statistics of a field (median, p99, …) are appended
  to ``quality.profile_history``; the newest median and p99 are scored against the field's
  earlier values. A field whose median jumps (a unit change: prices now in fen, not yuan) or
  whose tail swells is reported.
- **Outlying rows**: each value is scored against its own field's median and the MAD of its
  side of the median in the current data; values far beyond (a 100× amount, a mistyped
  quantity) are reported row by row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from tributary.identifiers import ident

MAD_TO_SD = 1.4826  # MAD × this estimates the standard deviation of normal data
MEAN_AD_TO_SD = 1.253314  # the same for the mean absolute deviation (sqrt(pi / 2))
# A statistic moved when its robust z-score against its history exceeds this. On normal data
# |z| > 5 happens once in 1.7 million builds; a spread estimated from 5–30 builds is rough, so
# the margin is deliberate. A unit change or a doubled tail scores in the tens or more.
SHIFT_Z = 5.0
MIN_HISTORY = 5  # earlier builds needed before a shift is judged; fewer say nothing yet
HISTORY_WINDOW = 30  # the latest builds a statistic is compared with
# The spread of a history is at least this share of its median: a flat history (the same
# data rebuilt) would otherwise make any change, however small, infinitely unusual. At 2%,
# a statistic must move by more than 10% of itself to warn after a flat history.
MIN_RELATIVE_SPREAD = 0.02
# A row is outlying when its robust z-score within its field (double MAD, see outlying_rows)
# exceeds this: on the demo it flags the planted quantities and prices and no ordinary row.
OUTLIER_Z = 8.0
MIN_ROWS_FOR_OUTLIERS = 10  # fewer values have no meaningful median and spread
SHIFT_STATISTICS = ("median", "p99")

# The columns of quality.profile_history: one row per entity × field × segment × build.
PROFILE_COLUMNS: dict[str, tuple[str, str]] = {
    "profiled_at": ("timestamp", "When the statistics were taken (UTC)."),
    "run_id": ("varchar", "The Dagster run that took them."),
    "entity": ("varchar", "The dictionary entity."),
    "field": ("varchar", "The numeric field."),
    "segment": (
        "varchar",
        "The series the statistics describe: the currency of a money field, the text part of "
        "a composite key (fx rates per currency); empty when the field is one series.",
    ),
    "row_count": ("bigint", "Records in the segment."),
    "null_share": ("double", "Share of records without a value."),
    "mean": ("double", "Mean of the values."),
    "median": ("double", "Median of the values."),
    "mad": ("double", "Median absolute deviation from the median."),
    "p01": ("double", "1st percentile."),
    "p99": ("double", "99th percentile."),
}
STAT_COLUMNS = ("row_count", "null_share", "mean", "median", "mad", "p01", "p99")


@dataclass(frozen=True)
class NumericField:
    """A numeric column of a conformed model, and the columns that split it into series."""

    column: str
    segment_by: tuple[str, ...] = ()


def _segment_sql(field: NumericField) -> str:
    if not field.segment_by:
        return "''"
    return (
        "concat_ws('|', "
        + ", ".join(f"cast({ident(c)} as varchar)" for c in field.segment_by)
        + ")"
    )


def field_statistics(
    con: duckdb.DuckDBPyConnection, relation: str, fields: Sequence[NumericField]
) -> pd.DataFrame:
    """Per field and segment: row_count, null_share, mean, median, mad, p01, p99."""
    parts = [
        f"""
        select {_sql_text(f.column)} as field, segment, count(*) as row_count,
            1 - count(x) / count(*) as null_share, avg(x) as mean, median(x) as median,
            mad(x) as mad, quantile_cont(x, 0.01) as p01, quantile_cont(x, 0.99) as p99
        from (
            select {_segment_sql(f)} as segment, cast({ident(f.column)} as double) as x
            from {relation}
        )
        group by segment
        """
        for f in fields
    ]
    if not parts:
        return pd.DataFrame(columns=["field", "segment", *STAT_COLUMNS])
    return con.execute(" union all ".join(parts) + " order by field, segment").df()


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def robust_spread(history: Sequence[float]) -> tuple[float, float]:
    """(median, scale) of a history: scale = 1.4826 × MAD, at least ``MIN_RELATIVE_SPREAD``
    of the median's size."""
    values = np.asarray(history, dtype=float)
    median = float(np.median(values))
    mad = float(np.median(np.abs(values - median)))
    return median, max(MAD_TO_SD * mad, MIN_RELATIVE_SPREAD * abs(median))


def robust_z(value: float, history: Sequence[float]) -> float:
    """|value − median(history)| / scale(history); 0 or infinity on a history of zeros."""
    median, scale = robust_spread(history)
    if scale == 0:
        return 0.0 if value == median else math.inf
    return abs(value - median) / scale


def shifts(
    current: pd.DataFrame,
    history: pd.DataFrame,
    threshold: float = SHIFT_Z,
    min_history: int = MIN_HISTORY,
) -> pd.DataFrame:
    """Every (field, segment, statistic) of the current statistics scored against the same
    statistic's history (the latest ``HISTORY_WINDOW`` points, newest first by
    ``profiled_at``). Columns: field, segment, statistic, current, usual, z, points, moved
    (None when the history is too short to judge)."""
    rows = []
    for cur in current.itertuples(index=False):
        past = history[(history["field"] == cur.field) & (history["segment"] == cur.segment)]
        past = past.sort_values("profiled_at", ascending=False).head(HISTORY_WINDOW)
        for statistic in SHIFT_STATISTICS:
            value = getattr(cur, statistic)
            points = past[statistic].dropna().astype(float).tolist()
            row = {
                "field": cur.field,
                "segment": cur.segment,
                "statistic": statistic,
                "current": value,
                "usual": None,
                "z": None,
                "points": len(points),
                "moved": None,
            }
            if value is not None and not pd.isna(value) and len(points) >= min_history:
                z = robust_z(float(value), points)
                row.update(usual=robust_spread(points)[0], z=round(z, 2), moved=z > threshold)
            rows.append(row)
    columns = ["field", "segment", "statistic", "current", "usual", "z", "points", "moved"]
    return pd.DataFrame(rows, columns=columns)


# Scores every observed value (field, segment, value) against its side's spread; see
# ``outlying_rows``. $threshold and $min_rows are bound when it runs.
_OUTLIER_SCORING = f"""
    centre as (
        select field, segment, median(value) as median, count(*) as n
        from observed
        group by field, segment
    ),
    deviations as (
        select o.*, c.median, c.n, o.value >= c.median as upper, abs(o.value - c.median) as dev
        from observed as o
        inner join centre as c on o.field = c.field and o.segment = c.segment
    ),
    sides as (
        select field, segment, upper, median(dev) as mad, avg(dev) as mean_ad
        from (
            select field, segment, true as upper, dev from deviations where value >= median
            union all
            select field, segment, false as upper, dev from deviations where value <= median
        )
        group by field, segment, upper
    ),
    scored as (
        select d.* exclude (upper, dev, n),
            case
                when s.mad > 0 then d.dev / ({MAD_TO_SD} * s.mad)
                when s.mean_ad > 0 then d.dev / ({MEAN_AD_TO_SD} * s.mean_ad)
            end as z
        from deviations as d
        inner join sides as s
            on d.field = s.field and d.segment = s.segment and d.upper = s.upper
        where d.n >= $min_rows
    )
    select * replace (round(z, 1) as z)
    from scored
    where z > $threshold
    order by z desc, field, segment
    """


def outlying_rows(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    keys: Sequence[str],
    fields: Sequence[NumericField],
    threshold: float = OUTLIER_Z,
    min_rows: int = MIN_ROWS_FOR_OUTLIERS,
) -> pd.DataFrame:
    """Rows whose value lies beyond ``threshold`` robust z-scores of its field (and segment).

    The spread is measured on the value's own side of the median ("double MAD"): amounts are
    skewed, their upper half spread far wider than the lower, and one MAD for both sides
    flags the ordinary dear half as outlying (3% of the demo's order lines, expensive products
    mostly) while the double MAD flags only planted errors (unit prices 20–760× the list
    price). Where more than half of a side equals the median its MAD is 0 and says nothing;
    that side's mean absolute deviation (× 1.2533) stands in, as in Iglewicz and Hoaglin's
    modified z-score. A side whose values all equal the median has no outliers.
    Columns: the keys, field, segment, value, median, z; most outlying first.
    """
    key_list = ", ".join(ident(k) for k in keys)
    parts = [
        f"""
        select {key_list}, {_sql_text(f.column)} as field, {_segment_sql(f)} as segment,
            cast({ident(f.column)} as double) as value
        from {relation}
        where {ident(f.column)} is not null
        """
        for f in fields
    ]
    if not parts:
        return pd.DataFrame(columns=[*keys, "field", "segment", "value", "median", "z"])
    observed = " union all ".join(parts)
    sql = f"with observed as ({observed}),{_OUTLIER_SCORING}"
    return con.execute(sql, {"threshold": threshold, "min_rows": min_rows}).df()


def ensure_history_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> None:
    columns = ", ".join(f"{ident(n)} {t}" for n, (t, _) in PROFILE_COLUMNS.items())
    con.execute(f"create schema if not exists {ident(schema)}")
    con.execute(f"create table if not exists {ident(schema)}.{ident(table)} ({columns})")


def read_history(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, entity: str, before: object
) -> pd.DataFrame:
    """The entity's recorded statistics taken before ``before`` (a timestamp, or None for
    all); empty when the history table does not exist yet."""
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()[0]
    if not exists:
        return pd.DataFrame(columns=list(PROFILE_COLUMNS))
    return con.execute(
        f"select * from {ident(schema)}.{ident(table)} where entity = ? "
        "and (cast(? as timestamp) is null or profiled_at < cast(? as timestamp)) "
        "order by profiled_at desc",
        [entity, before, before],
    ).df()
