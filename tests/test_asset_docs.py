"""Docs where people look: every asset's columns, typed and described, in the Dagster UI.

dagster-dbt turns each model's documented columns into `dagster/column_schema`; a column
without `data_type` shows its type as "?". Raw ingest tables are left out: dlt reports their
schema when they load.
"""

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from tributary.contracts.dictionary import load_dictionary
from tributary.definitions import build_definitions
from tributary.mining.anomalies import FEATURES, ORDER_ANOMALIES_COLUMNS, score_orders
from tributary.publish.analyst_snapshot import PUBLISHED_TABLES_SCHEMA, publish_analyst_snapshot
from tributary.settings import PROJECT_ROOT

RAW_GROUP = "ingest"


@pytest.fixture
def column_schemas(settings) -> dict[dg.AssetKey, dg.TableSchema | None]:
    """Every asset outside the raw ingest group → its column schema, as the UI shows it."""
    graph = build_definitions(settings).resolve_asset_graph()
    schemas = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.group_name != RAW_GROUP:
            value = node.metadata.get("dagster/column_schema")
            if isinstance(value, dg.TableSchemaMetadataValue):
                value = value.schema
            schemas[key] = value
    return schemas


def test_every_asset_has_typed_described_columns(column_schemas):
    problems = []
    for key, schema in sorted(column_schemas.items(), key=lambda item: item[0].to_user_string()):
        name = key.to_user_string()
        if schema is None or not schema.columns:
            problems.append(f"{name}: no column schema")
            continue
        for column in schema.columns:
            if not (column.description or "").strip():
                problems.append(f"{name}.{column.name}: no description")
            if column.type in ("", "?"):
                problems.append(f"{name}.{column.name}: no data_type")
    assert column_schemas
    assert not problems, "\n".join(problems)


def described(schema: dg.TableSchema | None) -> dict[str, str]:
    return {c.name: c.description or "" for c in (schema.columns if schema else [])}


def test_conformed_columns_carry_the_dictionary_descriptions(column_schemas):
    dictionary = load_dictionary(PROJECT_ROOT / "sources")
    problems = []
    for entity_name, entity in dictionary.entities.items():
        key = dg.AssetKey(["intermediate", f"int_{entity_name}__conformed"])
        assert key in column_schemas, f"no conformed model for {entity_name}"
        columns = described(column_schemas[key])
        assert set(entity.keys) <= set(columns), f"{key.to_user_string()} lacks its key"
        # Fields no mapping feeds are left out of the conformed model.
        for field_name in set(entity.fields) & set(columns):
            if columns[field_name] != entity.fields[field_name].description:
                problems.append(
                    f"{key.to_user_string()}.{field_name}: {columns[field_name]!r} is not the "
                    f"dictionary's {entity.fields[field_name].description!r}"
                )
    assert not problems, "\n".join(problems)


def test_marts_start_with_the_dictionary_descriptions(column_schemas):
    """A mart may add to a dictionary field's description (marts/_marts__models.yml), never
    contradict it: each starts with the dictionary's words."""
    dictionary = load_dictionary(PROJECT_ROOT / "sources")
    marts = {name: e for name, e in dictionary.entities.items() if e.mart}
    assert marts
    problems = []
    for entity in marts.values():
        key = dg.AssetKey(["marts", entity.mart])
        columns = described(column_schemas[key])
        for field_name in set(entity.fields) & set(columns):
            expected = entity.fields[field_name].description
            if not columns[field_name].startswith(expected):
                problems.append(
                    f"{key.to_user_string()}.{field_name}: {columns[field_name]!r} does not start "
                    f"with the dictionary's {expected!r}"
                )
    assert not problems, "\n".join(problems)


def duckdb_types(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    return {
        name: type_.lower() for name, type_, *_ in con.execute(f"describe {relation}").fetchall()
    }


def test_order_anomalies_schema_is_what_the_asset_writes():
    """The hand-written schema of ml.order_anomalies names the columns and DuckDB types that
    score_orders' frame becomes."""
    rng = np.random.default_rng(0)
    orders = pd.DataFrame({"order_id": np.arange(1, 41, dtype="int64")})
    for feature in FEATURES:
        orders[feature] = rng.uniform(1, 2, len(orders))
    orders.loc[0, list(FEATURES)] = 100.0  # one order to flag, so reason has a value
    scored = score_orders(orders)
    with duckdb.connect() as con:
        con.register("scored", scored)
        con.execute("create table order_anomalies as select * from scored")
        written = duckdb_types(con, "order_anomalies")
    assert written == {name: type_ for name, (type_, _) in ORDER_ANOMALIES_COLUMNS.items()}


def test_published_tables_schema_is_what_publish_writes(tmp_path):
    warehouse, snapshot = tmp_path / "warehouse.duckdb", tmp_path / "analyst.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.t as select 1 as x")
    publish_analyst_snapshot(warehouse, snapshot)
    with duckdb.connect(str(snapshot), read_only=True) as con:
        written = duckdb_types(con, "main.published_tables")
    assert written == {c.name: c.type for c in PUBLISHED_TABLES_SCHEMA.columns}
