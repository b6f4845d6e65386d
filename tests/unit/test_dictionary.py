"""The data dictionary agrees with the sources and with the marts analysts read."""

import json

import pytest

from tributary.ingest.spec import load_specs
from tributary.settings import PROJECT_ROOT
from tributary.specfile import SpecErrors, load_model
from tributary.standardize.dictionary import Dictionary, load_dictionary, raw_column

SOURCES = PROJECT_ROOT / "sources"


def test_every_mapping_reads_a_declared_source_table():
    specs = {s.name: s for s in load_specs(SOURCES)}
    for entity in load_dictionary(SOURCES).entities.values():
        for table in entity.sources:
            source, name = table.split(".")
            assert name in specs[source].table_names(), table


def test_every_canonical_field_is_a_documented_column_of_its_mart(dbt_manifest):
    manifest = json.loads(dbt_manifest.read_text())
    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    for name, entity in load_dictionary(SOURCES).entities.items():
        columns = models[entity.mart]["columns"]
        for field in entity.fields:
            assert field in columns and columns[field]["description"], (name, field)


def test_source_names_map_through_dlt_normalization():
    # Mappings use the systems' own names; the warehouse has dlt's normalized ones.
    assert raw_column("staffID", "snake_case") == "staff_id"
    assert raw_column("empNo", "snake_case") == "emp_no"
    assert raw_column("金额(USD)", "duck_case") == "金额(USD)"


def test_mapping_to_an_unknown_field_names_the_line(tmp_path):
    path = tmp_path / "entities.yaml"
    path.write_text(
        "entities:\n  employee:\n    description: x\n    mart: dim_employee\n    key: id\n"
        "    fields:\n      id: {type: string, description: x}\n"
        "    sources:\n      hr.employees: {staffID: employee_idd}\n"
    )
    with pytest.raises(SpecErrors) as exc:
        load_model(path, Dictionary)
    assert "unknown field(s): employee_idd" in str(exc.value)
    assert exc.value.errors[0].line == 2
