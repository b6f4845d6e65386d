"""Alert events read from Dagster's own records: finished runs and check evaluations.

Runs: each run that finished since the last look fires (failed) or clears (succeeded) the
``run_failed`` incident of its job, so the job's next success resolves it. Checks: the latest
evaluation of each check fires or clears ``check_failed`` (or ``stale``, for the freshness
check: fires only past block_after, which it reports with severity ERROR).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import dagster as dg

from tributary.graph import FRESHNESS_CHECK
from tributary.operate.incidents import Event

_FINISHED = [dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.SUCCESS]


def source_of(name: str, sources: Iterable[str]) -> str | None:
    """The source an asset key or job belongs to: ``raw_<source>``, ``stg_<source>__…`` or
    ``<source>_refresh``."""
    for source in sources:
        if name in (f"raw_{source}", f"{source}_refresh") or name.startswith(
            (f"raw_{source}/", f"stg_{source}__")
        ):
            return source
    return None


def first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return (lines[0] if lines else "")[:300]


def _failure_details(instance: dg.DagsterInstance, run_id: str) -> tuple[str, ...]:
    """Which step failed, and the first line of its error (the user's exception, not
    Dagster's wrapper around it)."""
    details = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        event = entry.dagster_event
        error = getattr(event.event_specific_data, "error", None) if event else None
        while error is not None and error.cause is not None:
            error = error.cause
        message = first_line(error.message) if error is not None else "no error recorded"
        details.append(f"step {event.step_key if event else '?'}: {message}")
    if not details:  # failed before any step ran (e.g. a resource): the run's own message
        for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.RUN_FAILURE):
            details.append(first_line(entry.message or "the run failed"))
    return tuple(details[:5])


def run_events(
    instance: dg.DagsterInstance, after: float, ui_url: str, sources: list[str]
) -> tuple[list[Event], float]:
    """Events of runs that finished after ``after`` (a timestamp), and the new watermark."""
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=_FINISHED, updated_after=datetime.fromtimestamp(after, UTC)),
        order_by="update_timestamp",
        ascending=True,
        limit=500,
    )
    events, watermark = [], after
    for record in records:
        run = record.dagster_run
        watermark = max(watermark, record.update_timestamp.timestamp())
        failed = run.status == dg.DagsterRunStatus.FAILURE
        events.append(
            Event(
                event="run_failed",
                subject=run.job_name,
                firing=failed,
                summary=f"run of {run.job_name} failed",
                source=source_of(run.job_name, sources),
                details=_failure_details(instance, run.run_id) if failed else (),
                link=f"{ui_url.rstrip('/')}/runs/{run.run_id}",
            )
        )
    return events, watermark


def check_events(
    instance: dg.DagsterInstance,
    check_keys: Iterable[dg.AssetCheckKey],
    groups: Mapping[dg.AssetKey, str],
    ui_url: str,
    sources: list[str],
) -> list[Event]:
    """The latest evaluation of each check, as an event that fires or clears its incident."""
    events = []
    for key in check_keys:
        record = instance.get_latest_asset_check_evaluation_record(key)
        entry = record.event if record else None
        evaluation = entry.asset_check_evaluation if entry else None
        if evaluation is None:
            continue
        error = evaluation.severity == dg.AssetCheckSeverity.ERROR
        asset = key.asset_key.to_user_string()
        stale = key.name == FRESHNESS_CHECK
        events.append(
            Event(
                event="stale" if stale else "check_failed",
                subject=asset if stale else f"{asset}:{key.name}",
                firing=not evaluation.passed and (error or not stale),
                summary=(
                    f"{asset} is past its freshness block_after"
                    if stale
                    else f"check {key.name} on {asset} failed"
                ),
                severity="error" if error else "warning",
                source=source_of(asset, sources),
                group=groups.get(key.asset_key),
                details=(first_line(evaluation.description or ""),)
                if evaluation.description
                else (),
                link=f"{ui_url.rstrip('/')}/runs/{entry.run_id}" if entry.run_id else None,
            )
        )
    return events
