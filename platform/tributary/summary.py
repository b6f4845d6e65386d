"""What a person reads after a run (`tributary run`, `tributary demo run`): rows loaded, checks,
quarantine, the snapshot, and the step that failed."""

from pathlib import Path

import dagster as dg

from tributary.settings import Settings
from tributary.warehouse import connect, warehouse_lock


def published_tables(snapshot: Path) -> list[tuple]:
    """(table, rows, published_at) of the analyst snapshot; empty when there is none yet."""
    if not snapshot.exists():
        return []
    with connect(snapshot, read_only=True) as con:
        return con.execute(
            "select table_name, row_count, published_at from published_tables order by 1"
        ).fetchall()


def quarantine_counts(settings: Settings) -> list[tuple[str, int]]:
    """(quarantine table, rows) for each entity that holds rows back."""
    warehouse = settings.warehouse
    if not warehouse.exists():
        return []
    with (
        warehouse_lock(warehouse, settings.warehouse_lock_timeout_s),
        connect(warehouse, read_only=True) as con,
    ):
        tables = con.execute(
            "select table_name from information_schema.tables where table_schema = 'quality' "
            "and table_name like 'quarantine\\_%' escape '\\' and table_name <> 'quarantine_log'"
        ).fetchall()
        counts = [
            (f"quality.{t}", con.execute(f"select count(*) from quality.{t}").fetchone()[0])
            for (t,) in tables
        ]
    return [(name, rows) for name, rows in sorted(counts) if rows]


def failed_steps(result: dg.ExecuteInProcessResult) -> list[str]:
    """``step <key> failed: <the first line of its error>`` for each step that failed; the
    error is the user code's own (the innermost cause), not Dagster's wrapper around it."""
    lines = []
    for event in result.all_events:
        if not event.is_step_failure or event.step_failure_data.error is None:
            continue
        error = event.step_failure_data.error
        while error.cause is not None:
            error = error.cause
        lines.append(f"step {event.step_key} failed: {_first_line(error.message)}")
    return lines


def _first_line(message: str) -> str:
    """The error's first line; for dbt, whose first line only says dbt failed, the first
    line of the errors dagster-dbt parsed from dbt's log."""
    head, _, parsed = message.partition("Errors parsed from dbt logs:")
    lines = [line.strip() for line in (parsed or head).splitlines() if line.strip()]
    return lines[0] if lines else message.strip()


def summarize(result: dg.ExecuteInProcessResult, settings: Settings) -> str:
    """What a person reads after the run: rows loaded, checks, quarantine, the snapshot."""
    checks = result.get_asset_check_evaluations()
    warn = dg.AssetCheckSeverity.WARN
    failed = [
        c.asset_check_key.to_user_string() for c in checks if not c.passed and c.severity != warn
    ]
    warned = [
        c.asset_check_key.to_user_string() for c in checks if not c.passed and c.severity == warn
    ]
    loaded = {}
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        rows = materialization.metadata.get("rows_loaded")
        if rows is not None:
            loaded[materialization.asset_key.to_user_string()] = rows.value
    lines = [f"run {'succeeded' if result.success else 'FAILED'}: {result.run_id}"]
    lines += [f"  {line}" for line in failed_steps(result)]
    lines += ["", "rows loaded this run (only new and changed records on later runs):"]
    lines += [f"  {key:<28} {rows:>8,}" for key, rows in sorted(loaded.items())]
    passed = len(checks) - len(failed) - len(warned)
    lines += ["", f"checks: {passed} passed, {len(warned)} warnings, {len(failed)} failed"]
    lines += [f"  FAILED {key}" for key in failed]
    lines += [f"  warning {key}" for key in warned]
    quarantined = quarantine_counts(settings)
    if quarantined:
        lines += ["", "rows held back by blocking rules (see quality.quarantine_<entity>):"]
        lines += [f"  {name:<28} {rows:>8,}" for name, rows in quarantined]
    return "\n".join(lines + _snapshot_lines(settings.snapshot))


def _snapshot_lines(snapshot: Path) -> list[str]:
    """The analyst snapshot's tables, and how to query it."""
    published = published_tables(snapshot)
    if not published:
        return []
    lines = ["", f"analyst snapshot: {snapshot} (published {published[0][2]:%Y-%m-%d %H:%M:%S})"]
    lines += [f"  {name:<28} {rows:>8,}" for name, rows, _ in published]
    example = next((n for n, _, _ in published if n.startswith("marts.")), published[0][0])
    return lines + [
        "",
        "query it:",
        f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{snapshot}', "
        f"read_only=True).sql('select * from {example} limit 5'))\"",
        f"  duckdb -readonly {snapshot}   (the DuckDB CLI, if installed)",
        "open the UI on the same instance: make dev (the demo) or dagster dev -w workspace.yaml",
    ]
