"""Volume checks (warnings) on each raw table: a load with far fewer rows than usual."""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from tributary.quality.monitors import volume
from tributary.quality.monitors.targets import WARN
from tributary.warehouse import Warehouse

VOLUME_DESCRIPTION = (
    "A load with far fewer rows than usual. A table replaced in full by every load warns when "
    f"the newest load brought under {volume.LOAD_MIN_SHARE:.0%} of the median of the previous "
    f"{volume.WINDOW} loads (or the table fell under {volume.LOAD_MIN_SHARE:.0%} of its usual "
    "size). An incrementally loaded table (merge, append) brings only what changed, so a "
    "small load is normal; it warns when the table itself shrinks under "
    f"{volume.TABLE_MIN_SHARE:.0%} of its median size after the previous loads. Judged once "
    f"there are {volume.MIN_PREVIOUS} earlier loads and the usual volume is at least "
    f"{volume.MIN_USUAL_ROWS} rows."
)


def evaluate_volume(
    warehouse: Warehouse, instance: dg.DagsterInstance, check_key: dg.AssetCheckKey
) -> dg.AssetCheckResult:
    dataset, table = check_key.asset_key.path
    loads = volume.recent_loads(instance, check_key.asset_key, volume.WINDOW + 1)
    previous = volume.recorded_table_rows(instance, check_key, volume.WINDOW)
    with warehouse.connect(read_only=True) as con:
        disposition = volume.write_disposition(con, dataset, table)
        rows = volume.table_rows(con, dataset, table)
    verdict = volume.judge(disposition, loads, rows, previous)
    metadata: dict[str, Any] = {
        "rule": verdict.rule,
        "verdict": verdict.reason,
        "write_disposition": disposition or "unknown",
        volume.TABLE_ROWS: rows,
    }
    for signal in verdict.signals:
        prefix = signal.name.replace(" ", "_")
        metadata[f"usual_{prefix}"] = None if signal.usual is None else round(signal.usual)
        metadata[f"{prefix}_earlier_points"] = signal.points
    if loads:
        metadata["rows_loaded"] = loads[0].rows_loaded
        metadata["recent_loads"] = dg.MetadataValue.md(volume.loads_table(loads))
    return dg.AssetCheckResult(
        asset_key=check_key.asset_key,
        check_name=check_key.name,
        passed=verdict.passed,
        severity=WARN,
        metadata=metadata,
    )


def volume_checks(dataset: str, tables: list[str]) -> dg.AssetChecksDefinition:
    """One ``volume`` check per raw table of a dataset, evaluated in one step."""
    specs = [
        dg.AssetCheckSpec("volume", asset=dg.AssetKey([dataset, t]), description=VOLUME_DESCRIPTION)
        for t in tables
    ]

    @dg.multi_asset_check(specs=specs, name=f"volume_{dataset}", can_subset=True)
    def _check(
        context: dg.AssetCheckExecutionContext, warehouse: Warehouse
    ) -> Iterator[dg.AssetCheckResult]:
        for check_key in sorted(context.selected_asset_check_keys, key=str):
            yield evaluate_volume(warehouse, context.instance, check_key)

    return _check
