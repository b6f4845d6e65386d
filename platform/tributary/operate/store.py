"""The alert record: incidents, the messages queued for each channel, every delivery attempt.

A small SQLite file under the data folder (``data/operate/alerts.sqlite``), apart from the
warehouse: a sensor writing it never waits for a load holding the warehouse, and a load never
waits for it. Incidents and their messages survive restarts, so an undelivered message is
retried by the next tick, not lost.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from tributary.operate.messages import Message

_SCHEMA = """
create table if not exists incidents (
    id integer primary key,
    key text not null,
    event text not null,
    summary text not null,
    severity text not null,
    source text,
    asset text,
    opened_at real not null,
    last_sent_at real not null,
    repeat_s real not null,
    resolved_at real
);
create index if not exists incidents_open on incidents (key) where resolved_at is null;
create table if not exists messages (
    id integer primary key,
    incident_id integer not null references incidents (id),
    channel text not null,
    status text not null,          -- incident, reminder, resolved
    body text not null,            -- the Message, as JSON (scrubbed of secrets)
    state text not null,           -- pending, sent, failed
    attempts integer not null default 0,
    next_attempt real not null,
    last_error text,
    created_at real not null,
    sent_at real
);
create table if not exists attempts (
    message_id integer not null references messages (id),
    at real not null,
    ok integer not null,
    error text
);
create table if not exists cursors (name text primary key, value text not null);
"""


def store_path(data_dir: Path) -> Path:
    return data_dir / "operate" / "alerts.sqlite"


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """One transaction: committed when the block ends, rolled back on an error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=30)
    con.row_factory = sqlite3.Row
    try:
        con.executescript(_SCHEMA)
        with con:
            yield con
    finally:
        con.close()


def encode(message: Message) -> str:
    return json.dumps(asdict(message), ensure_ascii=False)


def decode(body: str) -> Message:
    data = json.loads(body)
    return Message(**{**data, "details": tuple(data["details"])})


def get_cursor(con: sqlite3.Connection, name: str) -> str | None:
    row = con.execute("select value from cursors where name = ?", (name,)).fetchone()
    return row["value"] if row else None


def set_cursor(con: sqlite3.Connection, name: str, value: str) -> None:
    con.execute(
        "insert into cursors values (?, ?) on conflict (name) do update set value = excluded.value",
        (name, value),
    )
