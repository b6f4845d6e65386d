"""The apps allowed to call the Data API and what each may read: a small SQLite file under the
data folder (``data/api/apps.sqlite``), never in the repo.

A secret is shown once, when the app is created, and kept only as a slow salted hash (scrypt).
A grant names one dataset, the kinds of personal data the app may see unmasked there, an
expiry date and a rate (requests per minute). The server reads the grants on every request, so
a revoke or an expiry takes effect on the next one, whatever tokens the app still holds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

# scrypt's cost: ~50 ms and 16 MiB per check here, so a stolen file resists guessing.
_N, _R, _P = 2**14, 8, 1
APP_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_SCHEMA = """
create table if not exists apps (
    name text primary key, secret_hash text not null, created_at text not null, revoked_at text
);
create table if not exists grants (
    app text not null references apps(name), dataset text not null, personal text not null,
    expires text not null, rate integer not null, rows text not null default '{}',
    primary key (app, dataset)
);
create table if not exists access_keys (
    ak text primary key, app text not null references apps(name)
);
"""


class AppError(ValueError):
    pass


@dataclass(frozen=True)
class Grant:
    dataset: str
    personal: frozenset[str]
    expires: date
    rate: int
    rows: dict[str, list[str]] = field(default_factory=dict)  # field → values its rows may have


def _hash(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)


def _encode(secret: str) -> str:
    salt = secrets.token_bytes(16)
    parts = [base64.b64encode(x).decode() for x in (salt, _hash(secret, salt))]
    return f"scrypt${_N}${_R}${_P}${parts[0]}${parts[1]}"


class AppStore:
    def __init__(self, path: Path):
        self.path = path

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=10)
        try:
            con.executescript(_SCHEMA)
            with con:
                yield con
        finally:
            con.close()

    def create(self, name: str) -> str:
        """A new app; returns its secret (shown this once, never stored)."""
        if not APP_NAME.match(name):
            raise AppError(f"app name {name[:70]!r}: lower-case letters, digits, _ and -")
        secret = secrets.token_urlsafe(32)
        with self._db() as con:
            if con.execute("select 1 from apps where name = ?", [name]).fetchone():
                raise AppError(f"app {name!r} exists: revoke it and create another name")
            now = datetime.now(UTC).isoformat(timespec="seconds")
            con.execute("insert into apps values (?, ?, ?, null)", [name, _encode(secret), now])
        return secret

    def grant(self, name: str, datasets: list[str], personal: list[str], expires: date,
              rate: int, rows: dict[str, list[str]] | None = None) -> None:  # fmt: skip
        if rate < 1:
            raise AppError("rate is requests per minute: at least 1")
        with self._db() as con:
            row = con.execute("select revoked_at from apps where name = ?", [name]).fetchone()
            if row is None or row[0]:
                raise AppError(f"no active app {name!r}: `tributary api app list` shows them")
            for dataset in datasets:
                con.execute(
                    "insert or replace into grants values (?, ?, ?, ?, ?, ?)",
                    [
                        name,
                        dataset,
                        ",".join(sorted(personal)),
                        expires.isoformat(),
                        rate,
                        json.dumps(rows or {}),
                    ],  # fmt: skip
                )

    def revoke(self, name: str) -> None:
        with self._db() as con:
            now = datetime.now(UTC).isoformat(timespec="seconds")
            done = con.execute(
                "update apps set revoked_at = ? where name = ? and revoked_at is null", [now, name]
            )
            if not done.rowcount:
                raise AppError(f"no active app {name!r}")

    def authenticate(self, name: str, secret: str) -> bool:
        """Whether ``secret`` is the active app's; as slow for an unknown app as for a known."""
        with self._db() as con:
            row = con.execute(
                "select secret_hash from apps where name = ? and revoked_at is null", [name]
            ).fetchone()
        stored = row[0] if row else _encode("unknown app: hash anyway, to take the same time")
        _, n, r, p, salt, digest = stored.split("$")
        salt_bytes = base64.b64decode(salt)
        given = hashlib.scrypt(secret.encode(), salt=salt_bytes, n=int(n), r=int(r), p=int(p),
                               dklen=32)  # fmt: skip
        return row is not None and hmac.compare_digest(given, base64.b64decode(digest))

    def grants(self, name: str, today: date | None = None) -> dict[str, Grant]:
        """The app's grants valid today; none when it is revoked or unknown."""
        today = today or datetime.now(UTC).date()
        with self._db() as con:
            rows = con.execute(
                "select dataset, personal, expires, rate, rows from grants join apps on name = app "
                "where app = ? and revoked_at is null and expires >= ?",
                [name, today.isoformat()],
            ).fetchall()
        return {
            d: Grant(
                d, frozenset(filter(None, p.split(","))), date.fromisoformat(e), r, json.loads(w)
            )
            for d, p, e, r, w in rows
        }

    def add_access_key(self, name: str) -> str:
        """A new access key (AK) for request signing; its SK is derived, never stored."""
        access_key = "AK" + secrets.token_hex(10).upper()
        with self._db() as con:
            row = con.execute("select revoked_at from apps where name = ?", [name]).fetchone()
            if row is None or row[0]:
                raise AppError(f"no active app {name!r}: `tributary api app list` shows them")
            con.execute("insert into access_keys values (?, ?)", [access_key, name])
        return access_key

    def app_for_key(self, access_key: str) -> str | None:
        with self._db() as con:
            row = con.execute(
                "select app from access_keys join apps on name = app "
                "where ak = ? and revoked_at is null",
                [access_key],
            ).fetchone()
        return row[0] if row else None

    def listing(self) -> list[tuple]:
        with self._db() as con:
            return con.execute(
                "select name, created_at, revoked_at, group_concat(dataset || ' until ' || expires"
                " || ' at ' || rate || '/min' || case when personal != '' then ' personal: '"
                " || personal else '' end"
                " || case when rows != '{}' then ' rows: ' || rows else '' end"
                ", '; ') from apps left join grants on name = app "
                "group by name, created_at, revoked_at order by name"
            ).fetchall()


def granted_scopes(grants: dict[str, Grant]) -> list[str]:
    """Every scope the grants allow: read:<dataset>, personal:<dataset>:<kind>."""
    return [f"read:{d}" for d in grants] + [
        f"personal:{d}:{k}" for d, g in grants.items() for k in sorted(g.personal)
    ]
