"""Delivering queued messages: each channel in order, with backoff, never blocking a run.

Each flush tries every channel's oldest pending message that is due. A failure is recorded
and the message waits ``backoff(attempts)`` before its next try; the channel's later messages
wait behind it, so a "resolved" never arrives before its incident. After ``MAX_ATTEMPTS`` a
message is given up as ``failed`` (still recorded, and visible in the sensor's log).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from tributary.contracts.alerts import AlertsFile
from tributary.operate.messages import scrub
from tributary.operate.senders import DeliveryError, deliver
from tributary.operate.store import decode

MAX_ATTEMPTS = 12  # 30 s doubling to an hour between tries: about 7 hours of trying
BACKOFF_S, BACKOFF_CAP_S = 30.0, 3600.0


def backoff(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failure: 30 s, 60 s, 2 min … at most 1 h."""
    return min(BACKOFF_S * 2 ** max(attempts - 1, 0), BACKOFF_CAP_S)


@dataclass
class Flushed:
    sent: list[str] = field(default_factory=list)  # "channel: title"
    failed: list[str] = field(default_factory=list)  # "channel: why (attempt n)"
    given_up: list[str] = field(default_factory=list)


def _record(con, row, ok: bool, error: str | None, now: datetime) -> None:
    con.execute(
        "insert into attempts values (?, ?, ?, ?)", (row["id"], now.timestamp(), int(ok), error)
    )


def flush(
    con: sqlite3.Connection,
    alerts: AlertsFile,
    env: Mapping[str, str],
    now: datetime,
    secrets: list[str],
) -> Flushed:
    """Try each channel's due messages in order, stopping at a channel's first failure."""
    done = Flushed()
    channels = [
        r["channel"]
        for r in con.execute(
            "select distinct channel from messages where state = 'pending' order by channel"
        )
    ]
    for name in channels:
        pending = con.execute(
            "select * from messages where channel = ? and state = 'pending' order by id", (name,)
        ).fetchall()
        for row in pending:
            if row["next_attempt"] > now.timestamp():
                break  # not due yet, and its successors wait behind it
            if not _attempt(con, alerts, name, row, env, now, secrets, done):
                break
    return done


def _attempt(con, alerts, name, row, env, now: datetime, secrets, done: Flushed) -> bool:
    message = decode(row["body"])
    channel = alerts.channels.get(name)
    try:
        if channel is None:
            raise DeliveryError("the channel is no longer declared in the alerts file")
        deliver(channel, message, env)
    except DeliveryError as exc:
        error = scrub(str(exc), secrets)
        attempts = row["attempts"] + 1
        state = "failed" if attempts >= MAX_ATTEMPTS else "pending"
        con.execute(
            "update messages set attempts = ?, state = ?, last_error = ?, next_attempt = ?"
            " where id = ?",
            (attempts, state, error, now.timestamp() + backoff(attempts), row["id"]),
        )
        _record(con, row, False, error, now)
        (done.given_up if state == "failed" else done.failed).append(
            f"{name}: {error} (attempt {attempts} of {MAX_ATTEMPTS})"
        )
        return False
    con.execute(
        "update messages set attempts = attempts + 1, state = 'sent', sent_at = ?, last_error ="
        " null where id = ?",
        (now.timestamp(), row["id"]),
    )
    _record(con, row, True, None, now)
    done.sent.append(f"{name}: {message.title}")
    return True
