"""The columns of a source's last load: from the warehouse, else from dlt's schema."""

import json

import duckdb

from tributary.contracts.source import SourceSpec
from tributary.ingest.last_load import last_load_columns

SPEC = SourceSpec.model_validate(
    {"name": "zz", "kind": "filesystem", "filesystem": {"bucket_url": "/x", "tables": [
        {"name": "a", "glob": "*.csv"}]}}
)  # fmt: skip


def test_warehouse_first_then_dlts_schema_while_it_is_held_then_nothing(settings):
    assert last_load_columns(SPEC, settings) == ({}, "")
    schemas = settings.dlt_pipelines_dir / "tributary_zz" / "schemas"
    schemas.mkdir(parents=True)
    tables = {"a": {"columns": {"id": {}, "Order Date": {}}}, "_dlt_loads": {"columns": {"x": {}}}}
    (schemas / "zz.schema.json").write_text(json.dumps({"tables": tables}))
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse)) as writer:  # a load holding the file
        writer.execute('create schema raw_zz; create table raw_zz.a (id int, "new" int)')
        columns, loaded = last_load_columns(SPEC, settings)
        assert columns == {"a": {"id", "Order Date"}}
        assert "dlt's schema" in loaded
    columns, loaded = last_load_columns(SPEC, settings)
    assert columns == {"a": {"id", "new"}}
    assert loaded == f"the warehouse {settings.warehouse.name}"
