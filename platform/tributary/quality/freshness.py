"""Source freshness: how long since each raw table last loaded successfully.

The age is measured from the last successful materialization Dagster recorded for the raw
table, never from timestamps inside the data: a source that is reached every day but has
nothing new is fresh; one whose loads fail or stopped is stale, however new its last rows
were. Each source declares its expectation in its YAML (``freshness: {warn_after: 26h,
block_after: 72h}``); a source without one gets no check.

Dagster's own ``build_last_update_freshness_checks`` fits neither half of that: it has one
severity per check (no warn *and* block), and it prefers a ``dagster/last_updated_timestamp``
found in the event's metadata over the event's own time, which is exactly the data-derived
time this check must not trust. Its sensor also never re-runs a failed check until the asset
updates, so a warning would never escalate to an error. Hence a small check and sensor here.
"""

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from tributary.contracts.source import Freshness, SourceSpec
from tributary.graph import FRESHNESS_CHECK
from tributary.settings import Settings

CHECK_NAME = FRESHNESS_CHECK
SENSOR_NAME = "freshness_sensor"
JOB_NAME = "freshness_checks"

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


# What a check can say, and the severity each failure carries.
FRESH, STALE, OVERDUE, NEVER = "fresh", "stale", "overdue", "never loaded"
_SEVERITY = {
    FRESH: dg.AssetCheckSeverity.WARN,  # unused: a fresh table passes
    STALE: dg.AssetCheckSeverity.WARN,
    NEVER: dg.AssetCheckSeverity.WARN,
    OVERDUE: dg.AssetCheckSeverity.ERROR,
}


@dataclass(frozen=True)
class Verdict:
    status: str
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == FRESH

    @property
    def severity(self) -> dg.AssetCheckSeverity:
        return _SEVERITY[self.status]


def judge(expectation: Freshness, last_load: datetime | None, now: datetime) -> Verdict:
    """Fresh within warn_after; stale (WARN) past it; overdue (ERROR) past block_after."""
    metadata: dict[str, Any] = {"expectation": str(expectation)}
    if last_load is None:
        return Verdict(
            NEVER,
            "never loaded: no successful load of this table is recorded",
            {**metadata, "status": NEVER, "last_load_utc": "never"},
        )
    age = now - last_load
    hours = round(age.total_seconds() / 3600, 1)
    when = last_load.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    block = expectation.block_delta
    if block is not None and age > block:
        status, limit = OVERDUE, f"older than block_after {expectation.block_after}"
    elif age > expectation.warn_delta:
        status, limit = STALE, f"older than warn_after {expectation.warn_after}"
    else:
        status, limit = FRESH, f"within warn_after {expectation.warn_after}"
    return Verdict(
        status,
        f"last successful load {hours} h ago ({when}): {limit}",
        {**metadata, "status": status, "last_load_utc": when, "age_hours": hours},
    )


def last_load(instance: dg.DagsterInstance, key: dg.AssetKey) -> tuple[datetime | None, str]:
    """When the table last loaded successfully, and the run that loaded it ('' if none).

    Only materializations count: Dagster records one when a load succeeded, never for a failed
    one. The event's own time is used, never a timestamp carried in its metadata.
    """
    event = instance.get_latest_materialization_event(key)
    if event is None:
        return None, ""
    return datetime.fromtimestamp(event.timestamp, UTC), event.run_id


def _expectations(specs: list[SourceSpec]) -> dict[dg.AssetKey, Freshness]:
    return {
        dg.AssetKey([spec.dataset, table]): spec.freshness
        for spec in specs
        if spec.freshness is not None
        for table in spec.table_names()
    }


def freshness_check(spec: SourceSpec, clock: Clock = utc_now) -> dg.AssetChecksDefinition:
    """One check per raw table of a source, all evaluated from the Dagster instance alone."""
    expectation = spec.freshness
    keys = [dg.AssetKey([spec.dataset, table]) for table in spec.table_names()]
    description = (
        f"Time since this table last loaded successfully ({expectation}). Measured from the "
        "load recorded by Dagster, not from dates in the data: fails as a warning when "
        "stale or never loaded, as an error when past block_after."
    )

    # No pool: the check reads only the Dagster instance, never the warehouse, so it must not
    # wait behind a load holding the warehouse pool (a hung load is when it matters most).
    @dg.multi_asset_check(
        specs=[
            dg.AssetCheckSpec(
                CHECK_NAME,
                asset=key,
                description=description,
                metadata={"expectation": str(expectation)},
            )
            for key in keys
        ],
        name=f"freshness_{spec.name}",
        can_subset=True,
    )
    def _check(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        now = clock()
        for check_key in sorted(context.selected_asset_check_keys, key=str):
            loaded_at, run_id = last_load(context.instance, check_key.asset_key)
            verdict = judge(expectation, loaded_at, now)
            metadata = dict(verdict.metadata)
            if run_id:
                metadata["last_load_run"] = dg.MetadataValue.dagster_run(run_id)
            yield dg.AssetCheckResult(
                asset_key=check_key.asset_key,
                check_name=CHECK_NAME,
                passed=verdict.passed,
                severity=verdict.severity,
                description=verdict.description,
                metadata=metadata,
            )

    return _check


def build_freshness_checks(
    settings: Settings, specs: list[SourceSpec], *, clock: Clock = utc_now
) -> list[dg.AssetChecksDefinition]:
    """A freshness check on every raw table of each source that declares ``freshness``.

    ``settings`` is unused (the checks read only the Dagster instance); it keeps the signature
    of the other layer builders. ``clock`` lets tests evaluate "days later" without waiting.
    """
    return [freshness_check(spec, clock) for spec in specs if spec.freshness is not None]


def _recorded_status(instance: dg.DagsterInstance, check_key: dg.AssetCheckKey) -> str | None:
    record = instance.get_latest_asset_check_evaluation_record(check_key)
    evaluation = record.event.asset_check_evaluation if record and record.event else None
    if evaluation is None:
        return None
    status = evaluation.metadata.get("status")
    return None if status is None else status.value


def build_freshness_sensors(
    specs: list[SourceSpec],
    *,
    clock: Clock = utc_now,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
) -> list[dg.SensorDefinition]:
    """Re-evaluates freshness checks whose status has changed since they last ran.

    Loads run their checks themselves; this sensor covers the time in between, when no load
    runs at all (stopped schedule, failing source): when a table crosses warn_after or
    block_after, a check-only run records it. It reads only the Dagster instance and launches
    a run only on a change, so it is on by default.
    """
    expectations = _expectations(specs)
    if not expectations:
        return []
    job = dg.define_asset_job(
        JOB_NAME,
        selection=dg.AssetSelection.checks(
            *(dg.AssetCheckKey(key, CHECK_NAME) for key in expectations)
        ),
        description="Evaluates source freshness checks, without loading anything.",
    )

    @dg.sensor(
        name=SENSOR_NAME,
        job=job,
        minimum_interval_seconds=300,
        default_status=default_status,
        description="Records a source table going stale or overdue even when no load runs.",
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        now = clock()
        due: list[tuple[dg.AssetCheckKey, str, float | None]] = []
        for key, expectation in expectations.items():
            check_key = dg.AssetCheckKey(key, CHECK_NAME)
            loaded_at, _ = last_load(context.instance, key)
            status = judge(expectation, loaded_at, now).status
            if _recorded_status(context.instance, check_key) != status:
                due.append((check_key, status, loaded_at.timestamp() if loaded_at else None))
        if not due:
            return dg.SkipReason("every freshness check already shows its current status")
        # One run per change: the same table, status and load never launch a second run.
        run_key = hashlib.sha256(
            json.dumps([(k.to_user_string(), s, t) for k, s, t in due]).encode()
        ).hexdigest()
        context.log.info(
            "freshness changed: "
            + ", ".join(f"{k.asset_key.to_user_string()} {s}" for k, s, _ in due)
        )
        return dg.RunRequest(run_key=run_key, asset_check_keys=[k for k, _, _ in due])

    return [_sensor]
