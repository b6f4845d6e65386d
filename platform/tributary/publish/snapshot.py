"""Write-audit-publish: copy what analysts read into a new file, then rename it into place.

Readers open only the snapshot, so a load never blocks them and they never see a half-built
warehouse; the previous snapshot is kept beside it for rollback.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from tributary.warehouse import connect, table_counts

PUBLISHED_SCHEMAS = ("marts", "ml")


def publish_snapshot(
    warehouse: Path, snapshot: Path, required: Sequence[str] = ()
) -> dict[str, int]:
    """Copy the published schemas into ``snapshot`` atomically; return rows per table.

    Refuses, leaving the current snapshot as it is, when a ``required`` table is missing.
    """
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    staging = snapshot.with_suffix(".new.duckdb")
    staging.unlink(missing_ok=True)
    with connect(staging) as con:
        con.execute("attach ? as working (read_only)", [str(warehouse)])
        counts = table_counts(con, PUBLISHED_SCHEMAS, catalog="working")
        missing = sorted(set(required) - set(counts))
        if missing or not counts:
            con.close()
            staging.unlink(missing_ok=True)
            raise LookupError(f"nothing published: missing {', '.join(missing) or 'every table'}")
        for name in counts:
            schema, table = name.split(".")
            con.execute(f'create schema if not exists "{schema}"')
            con.execute(f'create table "{schema}"."{table}" as from working."{schema}"."{table}"')
        con.execute(
            "create table main.published_tables as "
            "select unnest(?) as table_name, unnest(?) as row_count, now() as published_at",
            [list(counts), list(counts.values())],
        )
        con.execute("detach working")
    if snapshot.exists():
        # A hard link keeps the old file for rollback without a moment where none exists.
        previous = snapshot.with_suffix(".previous.duckdb")
        previous.unlink(missing_ok=True)
        os.link(snapshot, previous)
    os.replace(staging, snapshot)
    return counts
