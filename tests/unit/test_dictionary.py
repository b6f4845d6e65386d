"""The data dictionary and the mappings: validated with file, line and fix, and tied to the
sources and the marts analysts read."""

import json
import shutil
from pathlib import Path

import pytest

from tributary.contracts.dictionary import Dictionary, load_dictionary
from tributary.contracts.mapping import load_mappings, raw_column
from tributary.contracts.source import load_specs
from tributary.contracts.specfile import SpecErrors, load_model
from tributary.settings import PROJECT_ROOT

SOURCES = PROJECT_ROOT / "sources"


def demo_mappings():
    specs = load_specs(SOURCES)
    return load_mappings(SOURCES, specs, load_dictionary(SOURCES))


def test_every_demo_table_is_mapped_onto_an_entity():
    specs = {s.name: s for s in load_specs(SOURCES)}
    mapped = {m.name: set(m.mapping.tables) for m in demo_mappings()}
    assert mapped == {name: set(spec.table_names()) for name, spec in specs.items()}


def test_every_entity_with_a_mart_documents_its_fields_there(dbt_manifest):
    manifest = json.loads(dbt_manifest.read_text())
    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    for name, entity in load_dictionary(SOURCES).entities.items():
        conformed = models[f"int_{name}__conformed"]["columns"]
        for field in entity.fields:
            assert conformed[field]["description"], (name, field)
        if entity.mart:
            mart = models[entity.mart]["columns"]
            assert all(mart[k]["description"] for k in entity.keys), name


def test_source_names_map_through_dlt_normalization():
    # Mappings use the systems' own names; the warehouse has dlt's normalized ones.
    assert raw_column("staffID", "snake_case") == "staff_id"
    assert raw_column("empNo", "snake_case") == "emp_no"
    assert raw_column("staff_id", "snake_case") == "staff_id"  # the warehouse name works too
    assert raw_column("金额(USD)", "duck_case") == "金额(USD)"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def sources_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "sources"
    shutil.copytree(SOURCES, folder)
    return folder


def mapping_errors(folder: Path) -> list:
    with pytest.raises(SpecErrors) as exc:
        load_mappings(folder, load_specs(folder), load_dictionary(folder))
    return exc.value.errors


def test_a_mapping_to_an_unknown_field_names_the_file_line_and_fix(tmp_path):
    folder = sources_copy(tmp_path)
    text = (folder / "hr.mapping.yaml").read_text(encoding="utf-8")
    path = write(
        folder,
        "hr.mapping.yaml",
        text.replace("hireDate: {to: hire_date", "hireDate: {to: hire_dat"),
    )
    [error] = mapping_errors(folder)
    assert error.file == path
    assert (
        error.line
        == text.splitlines().index(next(line for line in text.splitlines() if "hireDate" in line))
        + 1
    )
    assert "employee has no field 'hire_dat'" in error.message
    assert "did you mean `hire_date`?" in error.fix


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("entity: employee", "entity: employe"), "no entity 'employe'"),
        (("  employees:", "  employes:"), "hr has no table 'employes'"),
        (("currency: CNY}", "}"), "money field needs `currency"),
        (
            ('formats: ["%d/%m/%Y"]', 'formats: ["%d/%m/%Y"], codes: {x: y}'),
            "`codes` does not apply",
        ),
        (
            ("deptCode: department_code\n      deptName:", "deptName:"),
            "key field(s) department_code",
        ),
        (("      staffID: employee_id  # S00017 → E00017\n", ""), "no `id`"),
        (("name: full_name", "name: email"), "'email' is already fed by"),
        (("gender: gender", "gender: {to: gender, codes: {X: Q}}"), "Q are not canonical"),
    ],
)
def test_mapping_mistakes_are_reported_with_a_line(tmp_path, change, message):
    folder = sources_copy(tmp_path)
    path = folder / "hr.mapping.yaml"
    text = path.read_text(encoding="utf-8")
    assert change[0] in text
    path.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    errors = mapping_errors(folder)
    assert any(message in e.message for e in errors), errors
    assert all(e.file == path and e.line for e in errors)


def test_an_unknown_key_in_a_mapping_gets_a_did_you_mean(tmp_path):
    folder = sources_copy(tmp_path)
    path = folder / "crm.mapping.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "updated_at: modified_at", "updatd_at: modified_at", 1
        ),
        encoding="utf-8",
    )
    [error] = mapping_errors(folder)
    assert "did you mean `updated_at`?" in error.fix


def test_a_mapping_without_its_source_is_named(tmp_path):
    folder = sources_copy(tmp_path)
    write(folder, "payroll.mapping.yaml", "tables: {}\n")
    [error] = mapping_errors(folder)
    assert "no source 'payroll'" in error.message


def test_dictionary_mistakes_name_the_line(tmp_path):
    path = write(
        tmp_path,
        "entities.yaml",
        "entities:\n  employee:\n    description: x\n    key: id\n"
        "    fields:\n      id: {type: string, description: x}\n"
        "      gender: {type: code, description: x}\n",
    )
    with pytest.raises(SpecErrors) as exc:
        load_model(path, Dictionary)
    [error] = exc.value.errors
    assert "a `code` field needs `codes`" in error.message
    assert error.line == 7
