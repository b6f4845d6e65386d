"""`tributary demo run` (`make demo`): the demo enterprise on loopback, every asset and check
run in process, the analyst snapshot, and a summary of what happened."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from tributary.definitions import build_definitions
from tributary.settings import Settings
from tributary.warehouse import connect


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Expose the demo systems' addresses and credentials to the load, then take them back."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def materialize_all(settings: Settings, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """Every asset with all its checks, in process, in dependency order."""
    defs = build_definitions(settings)
    job = defs.resolve_implicit_global_asset_job_def()
    quiet = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    return job.execute_in_process(run_config=quiet, instance=instance, raise_on_error=False)


def published_tables(snapshot: Path) -> list[tuple]:
    """(table, rows, published_at) of the analyst snapshot; empty when there is none yet."""
    if not snapshot.exists():
        return []
    with connect(snapshot, read_only=True) as con:
        return con.execute(
            "select table_name, row_count, published_at from published_tables order by 1"
        ).fetchall()


def quarantine_counts(warehouse: Path) -> list[tuple[str, int]]:
    """(quarantine table, rows) for each entity that holds rows back."""
    if not warehouse.exists():
        return []
    with connect(warehouse, read_only=True) as con:
        tables = con.execute(
            "select table_name from information_schema.tables where table_schema = 'quality' "
            "and table_name like 'quarantine\\_%' escape '\\' and table_name <> 'quarantine_log'"
        ).fetchall()
        counts = [
            (f"quality.{t}", con.execute(f"select count(*) from quality.{t}").fetchone()[0])
            for (t,) in tables
        ]
    return [(name, rows) for name, rows in sorted(counts) if rows]


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
    lines = [f"run {'succeeded' if result.success else 'FAILED'}: {result.run_id}", ""]
    lines.append("rows loaded this run (only new and changed records on later runs):")
    lines += [f"  {key:<28} {rows:>8,}" for key, rows in sorted(loaded.items())]
    passed = len(checks) - len(failed) - len(warned)
    lines += ["", f"checks: {passed} passed, {len(warned)} warnings, {len(failed)} failed"]
    lines += [f"  FAILED {key}" for key in failed]
    lines += [f"  warning {key}" for key in warned]
    quarantined = quarantine_counts(settings.warehouse)
    if quarantined:
        lines += ["", "rows held back by blocking rules (see quality.quarantine_<entity>):"]
        lines += [f"  {name:<28} {rows:>8,}" for name, rows in quarantined]
    published = published_tables(settings.snapshot)
    if published:
        lines += [
            "",
            f"analyst snapshot: {settings.snapshot} "
            f"(published {published[0][2]:%Y-%m-%d %H:%M:%S})",
        ]
        lines += [f"  {name:<28} {rows:>8,}" for name, rows, _ in published]
        lines += [
            "",
            "query it:",
            f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{settings.snapshot}', "
            "read_only=True).sql('select * from marts.fct_orders limit 5'))\"",
            f"  duckdb -readonly {settings.snapshot}   (the DuckDB CLI, if installed)",
            "open the UI on the same code location: make dev",
        ]
    return "\n".join(lines)


def run_demo(settings: Settings, seed: int = 7, scale: float = 1.0) -> int:
    """Serve the demo systems, build everything once, print the summary; 0 on success.

    A second run on the same data folder first moves the demo clock one day on.
    """
    from demo_enterprise import DemoEnterprise

    # `make demo` keeps run history where `make dev` shows it (DAGSTER_HOME); run by hand
    # without it, history goes under the data folder.
    if os.environ.get("DAGSTER_HOME"):
        instance = dg.DagsterInstance.get()
    else:
        instance = dg.DagsterInstance.local_temp(str(settings.data_dir / "dagster"))
    enterprise = DemoEnterprise(settings.demo_dir, seed=seed, scale=scale)
    if settings.warehouse.exists():
        enterprise.advance(1)  # a second run has something new to load, incrementally
    with enterprise.serve() as env, environment(env):
        result = materialize_all(settings, instance)
    print(f"demo enterprise at day {enterprise.day}")
    print(summarize(result, settings))
    return 0 if result.success else 1
