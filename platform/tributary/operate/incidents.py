"""Incidents: one per event kind and asset, sent once, reminded after the repeat interval,
closed with a "resolved" message to the channels that heard about it.

An event either fires (a run failed, a check failed, a source is overdue) or clears (the job
ran, the check passed, the source is fresh). Firing while an incident is open, or clearing
while none is, changes nothing: that is what keeps a failing hourly check to one message.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tributary.contracts.alerts import AlertsFile, QuietHours, Route
from tributary.operate.messages import Message, Status, scrub
from tributary.operate.store import decode, encode

_RANK = {"warning": 0, "error": 1}


@dataclass(frozen=True)
class Event:
    event: str  # run_failed, check_failed, stale
    subject: str  # the asset (or job) it is about: with ``event``, the incident's key
    firing: bool
    summary: str = ""
    severity: str = "error"
    source: str | None = None
    group: str | None = None
    details: tuple[str, ...] = ()
    link: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.event}:{self.subject}"


def _matches(route: Route, event: Event) -> bool:
    return (
        event.event in route.events
        and (not route.sources or event.source in route.sources)
        and (not route.groups or event.group in route.groups)
        and _RANK[event.severity] >= _RANK[route.severity]
    )


def quiet_until(quiet: QuietHours | None, severity: str, now: datetime) -> datetime:
    """When a message of this severity may go out: now, or (a warning in quiet hours) the end
    of the quiet hours. Errors are always delivered at once."""
    if quiet is None or severity == "error":
        return now
    zone = ZoneInfo(quiet.timezone)
    local = now.astimezone(zone)
    t = local.time().replace(tzinfo=None)
    if quiet.start <= quiet.end:
        inside = quiet.start <= t < quiet.end
    else:  # e.g. 22:00 to 07:00, across midnight
        inside = t >= quiet.start or t < quiet.end
    if not inside:
        return now
    end = datetime.combine(local.date(), quiet.end, tzinfo=zone)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(UTC)


def routed(alerts: AlertsFile, event: Event, now: datetime) -> dict[str, tuple[datetime, float]]:
    """Each channel the event goes to, with when it may be sent and the repeat interval (the
    earliest and shortest of the routes that send it there)."""
    channels: dict[str, tuple[datetime, float]] = {}
    for route in alerts.routes:
        if not _matches(route, event):
            continue
        when = quiet_until(route.quiet_hours, event.severity, now)
        repeat = alerts.repeat_interval(route).total_seconds()
        for name in route.channels:
            earlier = channels.get(name, (when, repeat))
            channels[name] = (min(earlier[0], when), min(earlier[1], repeat))
    return channels


def _open(con: sqlite3.Connection, key: str) -> sqlite3.Row | None:
    return con.execute(
        "select * from incidents where key = ? and resolved_at is null", (key,)
    ).fetchone()


def _queue(con, incident_id: int, channel: str, message: Message, when: datetime, now) -> None:
    con.execute(
        "insert into messages (incident_id, channel, status, body, state, next_attempt,"
        " created_at) values (?, ?, ?, ?, 'pending', ?, ?)",
        (incident_id, channel, message.status, encode(message), when.timestamp(), now.timestamp()),
    )


def message_for(event: Event, status: Status, opened_at: datetime, secrets: list[str]) -> Message:
    return Message(
        status=status,
        event=event.event,
        key=scrub(event.key, secrets),
        summary=scrub(event.summary, secrets),
        severity=event.severity,
        source=event.source,
        asset=scrub(event.subject, secrets),
        details=tuple(scrub(d, secrets) for d in event.details),
        link=event.link,
        opened_at=opened_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def observe(
    con: sqlite3.Connection, alerts: AlertsFile, event: Event, now: datetime, secrets: list[str]
) -> str:
    """Open, keep or resolve the event's incident; queue the messages that implies. Returns
    what happened (opened, open, resolved, none, unrouted)."""
    current = _open(con, event.key)
    if event.firing:
        if current is not None:
            return "open"
        channels = routed(alerts, event, now)
        if not channels:
            return "unrouted"
        repeat = min(r for _, r in channels.values())
        cursor = con.execute(
            "insert into incidents (key, event, summary, severity, source, asset, opened_at,"
            " last_sent_at, repeat_s) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (event.key, event.event, scrub(event.summary, secrets), event.severity,
             event.source, event.subject, now.timestamp(), now.timestamp(), repeat),
        )  # fmt: skip
        message = message_for(event, "incident", now, secrets)
        for name, (when, _) in channels.items():
            _queue(con, cursor.lastrowid, name, message, when, now)
        return "opened"
    if current is None:
        return "none"
    con.execute(
        "update incidents set resolved_at = ? where id = ?", (now.timestamp(), current["id"])
    )
    opened = datetime.fromtimestamp(current["opened_at"], UTC)
    message = message_for(event, "resolved", opened, secrets)
    heard = con.execute(
        "select distinct channel from messages where incident_id = ? order by channel",
        (current["id"],),
    ).fetchall()
    for row in heard:
        _queue(con, current["id"], row["channel"], message, now, now)
    return "resolved"


def remind(con: sqlite3.Connection, now: datetime) -> int:
    """Queue a reminder for each open incident not sent within its repeat interval."""
    due = con.execute(
        "select * from incidents where resolved_at is null and last_sent_at + repeat_s <= ?",
        (now.timestamp(),),
    ).fetchall()
    for incident in due:
        first = con.execute(
            "select body from messages where incident_id = ? and status = 'incident'"
            " order by id limit 1",
            (incident["id"],),
        ).fetchone()
        body = encode(dataclasses.replace(decode(first["body"]), status="reminder"))
        channels = con.execute(
            "select distinct channel from messages where incident_id = ?", (incident["id"],)
        ).fetchall()
        for row in channels:
            con.execute(
                "insert into messages (incident_id, channel, status, body, state, next_attempt,"
                " created_at) values (?, ?, 'reminder', ?, 'pending', ?, ?)",
                (incident["id"], row["channel"], body, now.timestamp(), now.timestamp()),
            )
        con.execute(
            "update incidents set last_sent_at = ? where id = ?", (now.timestamp(), incident["id"])
        )
    return len(due)
