"""Schema drift read from dlt's own records: new columns, type changes, vanished columns."""

import dlt
import duckdb
import pytest

from tributary.ingest.drift import schema_drift
from tributary.ingest.sources import CONTRACTS


def load(tmp_path, rows, contract="evolve"):
    @dlt.resource(name="people", primary_key="id", write_disposition="merge")
    def people():
        yield rows

    source = dlt.source(lambda: [people()], name="hr")()
    source.schema_contract = CONTRACTS[contract]
    pipeline = dlt.pipeline(
        "drift_test",
        destination=dlt.destinations.duckdb(str(tmp_path / "w.duckdb")),
        dataset_name="raw_hr",
        pipelines_dir=str(tmp_path / "dlt"),
    )
    pipeline.run(source).raise_on_failed_jobs()


def drift(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        return schema_drift(con, "raw_hr", ["people"])["people"]


def test_first_load_and_unchanged_loads_have_no_drift(tmp_path):
    load(tmp_path, [{"id": 1, "age": 30, "city": "上海"}])
    assert not drift(tmp_path).needs_attention
    load(tmp_path, [{"id": 2, "age": 31, "city": "北京"}])
    found = drift(tmp_path)
    assert (found.new_columns, found.type_changes, found.vanished_columns) == ([], [], [])


def test_new_column_flows_through_and_is_reported_without_failing(tmp_path):
    load(tmp_path, [{"id": 1, "age": 30}])
    load(tmp_path, [{"id": 2, "age": 31, "email": "a@b.example"}])
    found = drift(tmp_path)
    assert found.new_columns == ["email"] and not found.needs_attention


def test_type_change_is_a_variant_column_that_needs_attention(tmp_path):
    load(tmp_path, [{"id": 1, "age": 30}])
    load(tmp_path, [{"id": 2, "age": "thirty-one"}])
    found = drift(tmp_path)
    assert found.type_changes == ["age__v_text"]
    assert found.needs_attention


def test_vanished_column_is_reported(tmp_path):
    load(tmp_path, [{"id": i, "age": 30, "city": "上海"} for i in range(20)])
    load(tmp_path, [{"id": 100 + i, "age": 31} for i in range(10)])
    found = drift(tmp_path)
    assert found.vanished_columns == ["city"]
    assert found.needs_attention


def test_a_few_rows_without_a_sparse_column_are_no_drift(tmp_path):
    # Regression: one new row without a mostly-empty column was reported as vanished.
    load(tmp_path, [{"id": i, "age": 30, "nickname": "x" if i == 0 else None} for i in range(20)])
    load(tmp_path, [{"id": 100 + i, "age": 31} for i in range(10)])
    load(tmp_path, [{"id": 200, "age": 32, "nickname": None}])
    assert drift(tmp_path).vanished_columns == []


def test_freeze_contract_fails_the_load_on_a_type_change(tmp_path):
    load(tmp_path, [{"id": 1, "age": 30}], contract="freeze")
    with pytest.raises(Exception, match="age"):
        load(tmp_path, [{"id": 2, "age": "thirty-one"}], contract="freeze")
