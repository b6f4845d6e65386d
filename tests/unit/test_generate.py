"""The generated dbt models, run for real in DuckDB on a few hand-made raw rows: conversions,
matching, deduplication, survivorship and the base currency do what the dictionary says."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from sql_harness import DBT, SOURCES, Warehouse, demo_files, employees_warehouse, render

from tributary.contracts.dictionary import load_dictionary
from tributary.contracts.mapping import Mapping, SourceMapping, check_mapping
from tributary.contracts.resolved import mapped_tables, quote
from tributary.contracts.source import SourceSpec
from tributary.standardize.dbt_codegen.project import is_generated, stale_files
from tributary.standardize.dbt_codegen.staging import staging_sql


def test_staging_renames_casts_and_converts():
    wh = employees_warehouse()
    rows = wh.rows(
        "select employee_id, full_name, gender, hire_date, monthly_salary, "
        "monthly_salary_currency, email, _source_id from stg_hr__employees "
        "order by _load_id, _source_id"
    )
    assert rows[0] == (
        "E00017", "王芳", "F", date(2024, 2, 29), Decimal("12345.00"), "CNY",
        "wang.fang@corp.cn", "S00017",
    )  # fmt: skip
    # empty gender is "not recorded"; an unknown code, an impossible date and text that is
    # not money become null (and fail their checks), never passed through
    assert rows[1][2:5] == ("U", date(2024, 3, 1), Decimal("9800.00"))
    assert rows[2][2:5] == (None, None, None)


def test_records_match_by_xref_key_then_email_and_the_crosswalk_says_how():
    wh = employees_warehouse()
    crosswalk = {
        (s, i): (k, how)
        for s, i, k, how in wh.rows(
            "select source, source_id, employee_id, matched_by from int_employee__crosswalk"
        )
    }
    assert crosswalk == {
        ("hr", "S00017"): ("E00017", "key"),
        ("hr", "S00018"): ("E00018", "key"),
        ("hr", "S00019"): ("E00019", "key"),
        ("erp", "17"): ("E00017", "key"),
        ("erp", "99"): ("E00017", "xref"),  # the steward's word comes first
        ("crm", "u17"): ("E00017", "key"),
        ("crm", "admin"): ("E00018", "email"),
        ("crm", "guest"): (None, "unmatched"),
    }


def test_conformed_takes_each_field_from_the_winning_system():
    wh = employees_warehouse()
    rows = {
        r[0]: r[1:]
        for r in wh.rows(
            "select employee_id, full_name, department_code, monthly_salary, email, "
            "sales_region, _sources from int_employee__conformed"
        )
    }
    assert set(rows) == {"E00017", "E00018", "E00019"}
    # HR wins the name over the ERP and the CRM; its newest version wins over the older one
    assert rows["E00017"] == (
        "王芳", "D02", Decimal("13000.00"), "wang.fang@corp.cn", "East", ["crm", "erp", "hr"],
    )  # fmt: skip
    # the CRM record found by e-mail joins the HR one
    assert rows["E00018"][-1] == ["crm", "hr"]
    # the ERP's second record of E00017 (by the cross-reference) joins it, and loses to HR
    assert rows["E00017"][0] == "王芳"


# 1234.50 USD in CNY: 1234.50 × round(1 / 0.142857, 6) = 1234.50 × 7.000007 = 8641.51
@pytest.mark.parametrize(("base", "expected"), [("USD", "1234.50"), ("CNY", "8641.51")])
def test_money_converts_at_the_rate_valid_on_its_date(base, expected):
    wh = Warehouse(base_currency=base)
    wh.raw(
        "raw_finance.fx_rates",
        [
            {"日期": "2024-03-01", "币种": "CNY", "兑美元汇率": "0.142857",
             "_file_name": "a", "_line": 1},
            {"日期": "2024-03-06", "币种": "CNY", "兑美元汇率": "0.100000",
             "_file_name": "a", "_line": 2},
        ],
    )  # fmt: skip
    wh.raw(
        "raw_finance.invoices",
        [
            {"发票号": "INV-1", "订单号": "SO-1", "客户编号": "C1", "金额(USD)": "1,234.50",
             "日期": "2024年3月5日", "_file_name": "invoices_1.csv", "_line": 1},
            # re-exported in a later file of the same load: the later file wins
            {"发票号": "INV-1", "订单号": "SO-1", "客户编号": "C1", "金额(USD)": "1,234.00",
             "日期": "2024年3月5日", "_file_name": "invoices_0.csv", "_line": 7},
        ],
    )  # fmt: skip
    wh.model(
        "stg_finance__fx_rates",
        "int_fx_rate__conformed",
        "int_fx_rates_to_base",
        "stg_finance__invoices",
        "int_invoice__crosswalk",
        "int_invoice__conformed",
    )
    [(amount, currency, amount_base)] = wh.rows(
        "select amount, amount_currency, amount_base from int_invoice__conformed"
    )
    # 1234.50 USD; in CNY at the 5 March rate (1 / 0.142857), not the later one
    assert (amount, currency, str(amount_base)) == (Decimal("1234.50"), "USD", expected)


def test_quoting_keeps_system_names_intact():
    assert quote("staff_id") == "staff_id"
    assert quote("order") == '"order"'
    assert quote("金额(USD)") == '"金额(USD)"'
    assert quote('a"b') == '"a""b"'


def test_generated_files_are_committed_and_fresh():
    write, delete = stale_files(demo_files(), DBT)
    assert (write, delete) == ([], []), "run `tributary generate` and commit the result"


def test_regenerating_removes_models_of_a_table_no_longer_mapped(tmp_path):
    files = demo_files(tmp_path)
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    orphan = tmp_path / "models" / "staging" / "hr" / "stg_hr__gone.sql"
    orphan.write_text(next(iter(files.values())), encoding="utf-8")
    handwritten = tmp_path / "models" / "marts" / "fct_mine.sql"
    handwritten.write_text("select 1\n", encoding="utf-8")
    assert stale_files(files, tmp_path) == ([], [orphan])
    assert is_generated(orphan) and not is_generated(handwritten)


def test_joined_fields_become_one_value_with_a_space_and_only_feed_text():
    """`firstName: {to: full_name, join: [lastName]}`: the parts joined, empty ones skipped."""
    spec = SourceSpec.model_validate(
        {"name": "shop", "kind": "filesystem",
         "filesystem": {"bucket_url": "/x", "tables": [{"name": "staff", "glob": "*.csv"}]}}
    )  # fmt: skip
    dictionary = load_dictionary(SOURCES)
    fields = {"emp_id": "employee_id", "first_name": {"to": "full_name", "join": ["last_name"]}}
    mapping = Mapping.model_validate(
        {"tables": {"staff": {"entity": "employee", "fields": fields}}}
    )
    assert check_mapping(Path("shop.mapping.yaml"), None, mapping, spec, dictionary) == []
    (table,) = mapped_tables([SourceMapping(spec, mapping, Path("shop.mapping.yaml"))], dictionary)
    con = duckdb.connect()
    con.execute(
        "create schema raw_shop; create table raw_shop.staff as select * from (values "
        "(1, ' Maria ', 'Lopez', 'l1', 'f', 1), (2, 'Chen', null, 'l1', 'f', 2), "
        "(3, '', 'Wei', 'l1', 'f', 3)) "
        "t(emp_id, first_name, last_name, _dlt_load_id, _file_name, _line)"
    )
    rows = con.execute(
        f"select employee_id, full_name from ({render(staging_sql(table), 'USD')}) order by 1"
    ).fetchall()
    assert rows == [("E00001", "Maria Lopez"), ("E00002", "Chen"), ("E00003", "Wei")]

    fields["emp_id"] = {"to": "employee_id", "join": ["first_name"]}  # an id is no text to join
    mapping = Mapping.model_validate(
        {"tables": {"staff": {"entity": "employee", "fields": fields}}}
    )
    (error,) = check_mapping(Path("shop.mapping.yaml"), None, mapping, spec, dictionary)
    assert "`join` does not apply to a id field (it is for string)" in error.message
