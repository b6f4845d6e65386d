"""What runs when: a daily refresh of everything, and a replay of the quarantine on demand.

A file source's sensor on its folder belongs to its kind (ingest/kinds/filesystem/sensor.py).
"""

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

# After fixing a mapping, a rule or the data behind quarantined rows: rebuild from staging on
# (no new load), which re-evaluates the quarantine and releases what now passes.
replay_quarantine = dg.define_asset_job(
    "replay_quarantine",
    selection=dg.AssetSelection.groups("staging").downstream(),
    description="Rebuild from staging to the snapshot: quarantined rows that now pass the "
    "rules are released into the marts (quality.quarantine_log records it).",
)
