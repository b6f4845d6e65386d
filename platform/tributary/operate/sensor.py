"""The alerts sensor: reads Dagster's records, keeps the incidents, delivers the messages.

It runs in the daemon, apart from every data run: a channel that is down or hangs delays no
run and fails none (each attempt has the channel's timeout; what fails is queued and tried
again with backoff by later ticks). Deliveries that fail are logged on the sensor's tick and
kept in ``data/operate/alerts.sqlite`` with their error.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import dagster as dg

from tributary.contracts.alerts import AlertsFile
from tributary.contracts.source import SourceSpec, referenced, secret_values
from tributary.operate.events import check_events, run_events
from tributary.operate.incidents import observe, remind
from tributary.operate.outbox import Flushed, flush
from tributary.operate.store import connect, get_cursor, set_cursor, store_path
from tributary.settings import Settings

SENSOR_NAME = "alerts_sensor"
# On its first tick the sensor looks this far back for finished runs, not at all history.
FIRST_LOOK_BACK = timedelta(hours=1)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Watched:
    """What the sensor reads: the checks to follow, each asset's group, the sources."""

    check_keys: list[dg.AssetCheckKey] = field(default_factory=list)
    groups: dict[dg.AssetKey, str] = field(default_factory=dict)
    specs: list[SourceSpec] = field(default_factory=list)


def known_secrets(alerts: AlertsFile, specs: list[SourceSpec], env: Mapping[str, str]) -> list[str]:
    """Every value a message must never show: what the channels and sources reference."""
    channel_values = [env[n] for n in referenced(dict(alerts.channels)) if env.get(n)]
    return [*channel_values, *(v for spec in specs for v in secret_values(spec, env))]


def tick(
    instance: dg.DagsterInstance,
    settings: Settings,
    alerts: AlertsFile,
    watched: Watched,
    now: datetime,
    env: Mapping[str, str],
) -> tuple[list[str], Flushed]:
    """One pass: new events into incidents, reminders, then deliveries. Returns what changed."""
    sources = [s.name for s in watched.specs]
    secrets = known_secrets(alerts, watched.specs, env)
    changes = []
    with connect(store_path(settings.data_dir)) as con:
        after = float(get_cursor(con, "runs") or (now - FIRST_LOOK_BACK).timestamp())
        events, watermark = run_events(instance, after, alerts.ui_url, sources)
        events += check_events(instance, watched.check_keys, watched.groups, alerts.ui_url, sources)
        for event in events:
            outcome = observe(con, alerts, event, now, secrets)
            if outcome in ("opened", "resolved"):
                changes.append(f"{event.key} {outcome}")
        set_cursor(con, "runs", repr(watermark))
        remind(con, now)
    with connect(store_path(settings.data_dir)) as con:
        return changes, flush(con, alerts, env, now, secrets)


def build_alerts_sensor(
    settings: Settings,
    alerts: AlertsFile,
    watched: Watched,
    *,
    clock: Clock = utc_now,
    environ: Mapping[str, str] | None = None,
) -> dg.SensorDefinition:
    @dg.sensor(
        name=SENSOR_NAME,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Sends one message per incident (a failed run, a failing check, a stale "
        "source) to the channels its routes name, and one when it is resolved.",
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        env = os.environ if environ is None else environ
        changes, done = tick(context.instance, settings, alerts, watched, clock(), env)
        for line in done.failed + done.given_up:
            context.log.warning(f"alert not delivered: {line}")
        return dg.SkipReason(
            f"{len(changes)} incident change(s), {len(done.sent)} message(s) sent, "
            f"{len(done.failed)} to retry, {len(done.given_up)} given up"
            + (": " + "; ".join(changes) if changes else "")
        )

    return _sensor
