"""What runs when: a daily refresh of everything, one refresh per source, and a replay of the
quarantine on demand.

A file source's sensor on its folder belongs to its kind (ingest/kinds/filesystem/sensor.py);
it starts that source's refresh job. `tributary run` runs these same jobs in process.
"""

from typing import Any

import dagster as dg

from tributary.contracts.source import SourceSpec

# The parts of a run `tributary run --only` can ask for, by the groups the layers give them.
INGEST_GROUP, PUBLISH_GROUP = "ingest", "publish"

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


def sources_selection(specs: list[SourceSpec]) -> dg.AssetSelection:
    """The sources' raw tables and everything built from them, down to the snapshot, and what
    those builds read that no load writes (dbt seeds: the roots of the graph outside ingest)."""
    built = dg.AssetSelection.key_prefixes(*[[spec.dataset] for spec in specs]).downstream()
    return built | (built.upstream().roots() - dg.AssetSelection.groups(INGEST_GROUP))


def source_job_name(spec: SourceSpec) -> str:
    return f"{spec.name}_refresh"


def source_job(spec: SourceSpec) -> Any:
    """Load one source and rebuild, check and publish what depends on it.

    In one process: a source's steps are few and short, and each would otherwise pay a
    process start and the definitions' load (seconds each); they write one DuckDB file one
    at a time anyway.
    """
    return dg.define_asset_job(
        source_job_name(spec),
        selection=sources_selection([spec]),
        executor_def=dg.in_process_executor,
        description=f"Load {spec.name} and rebuild, check and publish everything built from it "
        f"(what `tributary run {spec.name}` runs).",
    )


def step_selection(selection: dg.AssetSelection, step: str) -> dg.AssetSelection:
    """The part of ``selection`` one step of a run covers (``check``: assets whose checks run)."""
    if step == "ingest":
        return selection & dg.AssetSelection.groups(INGEST_GROUP)
    if step == "publish":
        return selection & dg.AssetSelection.groups(PUBLISH_GROUP)
    if step == "build":
        return selection - dg.AssetSelection.groups(INGEST_GROUP, PUBLISH_GROUP)
    return selection
