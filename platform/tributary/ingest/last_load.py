"""The columns a source's raw tables had after its last load, for checking its mapping.

Read from the warehouse when it can be opened (read-only), else from the schema dlt keeps in
the pipeline's folder (the warehouse is locked while a load or build writes it).
"""

import json
from pathlib import Path

import duckdb

from tributary.contracts.source import SourceSpec
from tributary.ingest.pipeline import pipeline_name
from tributary.settings import Settings


def _from_warehouse(path: Path, dataset: str) -> dict[str, set[str]] | None:
    if not path.exists():
        return None
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_schema = ? and table_catalog = current_database()",
            [dataset],
        ).fetchall()
    found: dict[str, set[str]] = {}
    for table, column in rows:
        found.setdefault(table, set()).add(column)
    return found or None


def _from_dlt_schema(folder: Path) -> dict[str, set[str]] | None:
    found: dict[str, set[str]] = {}
    for path in sorted(folder.glob("schemas/*.schema.json")):
        tables = json.loads(path.read_text(encoding="utf-8")).get("tables", {})
        for name, table in tables.items():
            if not name.startswith("_dlt") and table.get("columns"):
                found.setdefault(name, set()).update(table["columns"])
    return found or None


def last_load_columns(spec: SourceSpec, settings: Settings) -> tuple[dict[str, set[str]], str]:
    """Raw table -> columns as last loaded, and where they were read ({} when never loaded)."""
    try:
        found = _from_warehouse(settings.warehouse, spec.dataset)
        if found:
            return found, f"the warehouse {settings.warehouse.name}"
    except duckdb.Error:  # held by a writer: dlt's schema of the last load says the same
        pass
    folder = settings.dlt_pipelines_dir / pipeline_name(spec)
    found = _from_dlt_schema(folder)
    return (found, f"dlt's schema in {folder}") if found else ({}, "")
