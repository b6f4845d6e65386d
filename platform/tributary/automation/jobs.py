"""What runs when: a daily refresh of everything, and a sensor on finance's export folder."""

import json
import os
from pathlib import Path

import dagster as dg

# Everything, from raw tables to the analyst snapshot, once a day before office hours.
refresh_all = dg.define_asset_job("refresh_all", selection=dg.AssetSelection.all())
daily_refresh = dg.ScheduleDefinition(
    name="daily_refresh",
    job=refresh_all,
    cron_schedule="0 6 * * *",
    execution_timezone="Asia/Shanghai",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)

FINANCE_SELECTION = dg.AssetSelection.key_prefixes(["raw_finance"]).downstream()
finance_refresh = dg.define_asset_job("finance_refresh", selection=FINANCE_SELECTION)


def new_files(folder: Path, seen: set[str]) -> list[str]:
    """Export files in the folder that the sensor has not yet acted on."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_file() and p.name not in seen)


@dg.sensor(
    name="finance_export_sensor",
    job=finance_refresh,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Loads finance's exports as soon as a new file lands in FINANCE_EXPORT_DIR.",
)
def finance_export_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    folder = os.environ.get("FINANCE_EXPORT_DIR")
    if not folder:
        return dg.SensorResult(skip_reason="FINANCE_EXPORT_DIR is not set")
    seen = set(json.loads(context.cursor)) if context.cursor else set()
    fresh = new_files(Path(folder), seen)
    if not fresh:
        return dg.SensorResult(skip_reason="no new export files")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=",".join(fresh))],
        cursor=json.dumps(sorted(seen | set(fresh))),
    )
