"""Distribution checks (warnings) on each conformed entity: values far from the rest, and
medians or 99th percentiles that moved against the profile history."""

from datetime import UTC, datetime
from typing import Any

import dagster as dg

from tributary.quality.monitors import distribution
from tributary.quality.monitors.targets import (
    HISTORY_SCHEMA,
    HISTORY_TABLE,
    WARN,
    EntityTarget,
    number,
    sample_md,
)
from tributary.warehouse import Warehouse

OUTLIER_DESCRIPTION = (
    "Values of {fields} far from the rest: more than "
    f"{distribution.OUTLIER_Z:g} robust standard deviations (median absolute deviation × "
    "1.4826, measured on the value's side of the median) from the field's median; money per "
    "currency. Shows the rows, most unusual first."
)
SHIFT_DESCRIPTION = (
    "Whether the median or the 99th percentile of {fields} moved against their history in "
    f"{HISTORY_SCHEMA}.{HISTORY_TABLE}: a robust z-score above {distribution.SHIFT_Z:g} "
    f"against the last {distribution.HISTORY_WINDOW} builds (at least "
    f"{distribution.MIN_HISTORY} needed) warns, e.g. prices suddenly in fen instead of yuan."
)


def evaluate_outliers(warehouse: Warehouse, target: EntityTarget) -> dg.AssetCheckResult:
    fields = target.numeric_fields
    with warehouse.connect(read_only=True) as con:
        rows = con.execute(f"select count(*) from {target.relation}").fetchone()[0]
        found = distribution.outlying_rows(con, target.relation, target.entity.keys, fields)
    metadata: dict[str, Any] = {
        "rows_checked": rows,
        "fields": ", ".join(f.column for f in fields),
        "z_threshold": distribution.OUTLIER_Z,
        "outlying_values": len(found),
    }
    if not found.empty:
        counts = found.groupby(["field", "segment"]).size().reset_index(name="outlying_values")
        metadata["by_field"] = sample_md(counts, rows=len(counts))
        sample = found.copy()
        personal = sample["field"].map(target.personal)
        sample["value"] = sample["value"].astype(object).where(~personal, "(personal)")
        sample["median"] = sample["median"].astype(object).where(~personal, "(personal)")
        metadata["sample"] = sample_md(sample)
    return dg.AssetCheckResult(passed=found.empty, severity=WARN, metadata=metadata)


def _materialized_at(instance: dg.DagsterInstance, key: dg.AssetKey) -> datetime | None:
    event = instance.get_latest_materialization_event(key)
    return None if event is None else datetime.fromtimestamp(event.timestamp, UTC)


def evaluate_shift(
    warehouse: Warehouse, target: EntityTarget, built_at: datetime | None
) -> dg.AssetCheckResult:
    """The current statistics against those recorded before the model was last built."""
    before = None if built_at is None else built_at.astimezone(UTC).replace(tzinfo=None)
    with warehouse.connect(read_only=True) as con:
        current = distribution.field_statistics(con, target.relation, target.numeric_fields)
        history = distribution.read_history(con, HISTORY_SCHEMA, HISTORY_TABLE, target.name, before)
    scored = distribution.shifts(current, history)
    moved = scored[scored["moved"].eq(True)]
    judged = scored["moved"].notna()
    metadata: dict[str, Any] = {
        "statistics_judged": int(judged.sum()),
        "statistics_moved": len(moved),
        "z_threshold": distribution.SHIFT_Z,
        "history_points": int(scored["points"].max()) if len(scored) else 0,
    }
    if len(scored) and not judged.all():
        metadata["note"] = (
            f"{int((~judged).sum())} statistic(s) have fewer than {distribution.MIN_HISTORY} "
            f"earlier builds in {HISTORY_SCHEMA}.{HISTORY_TABLE}: not judged yet"
        )
    if len(scored):
        shown = scored.sort_values("z", ascending=False, na_position="last")
        for column in ("current", "usual"):
            shown[column] = shown[column].map(number)
        metadata["statistics"] = sample_md(shown, rows=len(shown))
    return dg.AssetCheckResult(passed=moved.empty, severity=WARN, metadata=metadata)


def _fields(target: EntityTarget) -> str:
    return ", ".join(f.column for f in target.numeric_fields)


def outlier_check(target: EntityTarget) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=target.asset_key,
        name="numeric_outliers",
        description=OUTLIER_DESCRIPTION.format(fields=_fields(target)),
    )
    def numeric_outliers(warehouse: Warehouse) -> dg.AssetCheckResult:
        return evaluate_outliers(warehouse, target)

    return numeric_outliers


def shift_check(target: EntityTarget) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=target.asset_key,
        name="distribution_shift",
        description=SHIFT_DESCRIPTION.format(fields=_fields(target)),
    )
    def distribution_shift(
        context: dg.AssetCheckExecutionContext, warehouse: Warehouse
    ) -> dg.AssetCheckResult:
        built_at = _materialized_at(context.instance, target.asset_key)
        return evaluate_shift(warehouse, target, built_at)

    return distribution_shift
