"""The Data API's datasets file: resolved against the dbt docs and the dictionary, mistakes
reported as file:line with a fix."""

import shutil
from pathlib import Path

import pytest

from tributary.contracts.api import api_path, load_api
from tributary.contracts.dictionary import load_dictionary
from tributary.contracts.specfile import SpecErrors
from tributary.settings import PROJECT_ROOT

SOURCES = PROJECT_ROOT / "sources"
DBT = PROJECT_ROOT / "dbt_project"


def load(sources: Path):
    return load_api(sources, DBT, load_dictionary(SOURCES))


def test_demo_datasets_take_types_descriptions_and_classes_from_docs_and_dictionary():
    api = load(SOURCES)
    employees = api.datasets["employees"]
    assert employees.model == "dim_employee" and employees.id == "employee_id"
    email = employees.fields["email"]
    assert (email.classification, email.personal) == ("personal", "contact")
    assert email.description == "Work e-mail, lower-case."
    assert employees.fields["monthly_salary"].personal == "compensation"
    assert employees.fields["hire_date"].classification == "internal"
    assert api.datasets["orders"].fields["amount_base"].data_type == "decimal(18,2)"
    assert api.datasets["orders"].sort[-1] == "order_id"  # the id breaks every tie


def write(tmp_path: Path, text: str) -> Path:
    sources = tmp_path / "sources"
    api_path(sources).parent.mkdir(parents=True)
    api_path(sources).write_text(text, encoding="utf-8")
    return sources


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        ("  orders:\n    model: fct_nope\n    id: order_id\n", 3, "no documented mart"),
        ("  orders:\n    model: fct_orders\n    id: order_no\n", 4, "not tested unique"),
        ("  orders:\n    model: fct_orders\n    id: order_id\n    filter: [statuz]\n", 5,
         "'statuz' is not a documented field"),
        ("  employees:\n    model: dim_employee\n    id: employee_id\n"
         "    sort: [source_systems]\n", 5, "cannot be compared"),
        ("  Orders:\n    model: fct_orders\n    id: order_id\n", 2, "not lower snake_case"),
        ("  orders:\n    model: fct_orders\n    id: order_id\n    filters: [status]\n", 5,
         "did you mean `filter`"),
    ],
)  # fmt: skip
def test_mistakes_come_back_as_file_line_and_fix(tmp_path, body, line, words):
    sources = write(tmp_path, "datasets:\n" + body)
    with pytest.raises(SpecErrors) as caught:
        load(sources)
    (error,) = caught.value.errors
    assert error.line == line, str(error)
    assert words in str(error)
    assert str(error).startswith(f"{api_path(sources)}:{line}: ")


def test_no_file_means_no_api(tmp_path):
    assert load(tmp_path) is None


def test_validate_reports_a_broken_datasets_file(tmp_path, monkeypatch, capsys):
    from tributary.cli import main

    sources = tmp_path / "sources"
    shutil.copytree(SOURCES, sources)
    api_path(sources).write_text("datasets:\n  orders:\n    model: fct_orders\n    id: nope\n")
    monkeypatch.setenv("TRIBUTARY_SOURCES_DIR", str(sources))
    monkeypatch.setenv("TRIBUTARY_DATA_DIR", str(tmp_path / "data"))
    assert main(["validate"]) == 1
    assert f"{api_path(sources)}:4: orders.id: 'nope'" in capsys.readouterr().err
