"""The generated dbt models, run for real in DuckDB on a few hand-made raw rows: conversions,
matching, deduplication, survivorship and the base currency do what the dictionary says.

The models are rendered with plain Jinja (the conversion macros and `source`/`ref`/`var`),
without dbt, so each case takes milliseconds; the end-to-end test runs them under dbt.
"""

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import jinja2
import pytest

from tributary.ingest.spec import load_specs
from tributary.settings import PROJECT_ROOT
from tributary.standardize.dictionary import load_dictionary
from tributary.standardize.generate import generated_files, is_generated, quote, stale_files
from tributary.standardize.mapping import load_mappings

SOURCES = PROJECT_ROOT / "sources"
DBT = PROJECT_ROOT / "dbt_project"
MACROS = re.sub(
    r"\{% test .*?\{% endtest %\}",
    "",
    (DBT / "macros" / "convert.sql").read_text(encoding="utf-8"),
    flags=re.S,
)


def demo_files(dbt_dir: Path = DBT) -> dict[Path, str]:
    dictionary = load_dictionary(SOURCES)
    return generated_files(
        load_mappings(SOURCES, load_specs(SOURCES), dictionary), dictionary, dbt_dir
    )


def render(sql: str, base_currency: str) -> str:
    template = jinja2.Environment().from_string(MACROS + sql)
    return template.render(
        source=lambda schema, table: f"{schema}.{table}",
        ref=lambda model: model,
        var=lambda name: {"base_currency": base_currency}[name],
    )


class Warehouse:
    """An in-memory DuckDB with raw tables, on which generated models are created as views."""

    def __init__(self, base_currency: str = "USD"):
        self.con = duckdb.connect()
        self.con.execute("set TimeZone = 'Asia/Shanghai'")  # results must not depend on it
        self.files = {p.name: text for p, text in demo_files().items()}
        self.base_currency = base_currency

    def raw(self, table: str, rows: list[dict]) -> None:
        schema = table.split(".")[0]
        self.con.execute(f"create schema if not exists {schema}")
        columns = list(rows[0]) + ["_dlt_load_id"]
        values = ", ".join(
            "(" + ", ".join(_sql(r.get(c, "load_1")) for c in columns) + ")" for r in rows
        )
        names = ", ".join(quote(c) for c in columns)
        self.con.execute(f"create table {table} as select * from (values {values}) t({names})")

    def model(self, *names: str) -> None:
        for name in names:
            sql = self.files.get(f"{name}.sql") or (
                DBT / "models" / "intermediate" / f"{name}.sql"
            ).read_text(encoding="utf-8")
            self.con.execute(f"create view {name} as {render(sql, self.base_currency)}")

    def rows(self, sql: str) -> list[tuple]:
        return self.con.execute(sql).fetchall()


def _sql(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def employees_warehouse() -> Warehouse:
    wh = Warehouse()
    wh.raw(
        "raw_hr.employees",
        [
            {"staff_id": "S00017", "name": " 王芳 ", "gender": "女", "hire_date": "29/02/2024",
             "dept_code": "D01", "monthly_salary": "¥12,345.00", "email": "Wang.Fang@Corp.CN",
             "updated_at": "2025-01-01T00:00:00Z"},
            # the same record loaded again later, changed: the newer version wins
            {"staff_id": "S00017", "name": "王芳", "gender": "女", "hire_date": "29/02/2024",
             "dept_code": "D02", "monthly_salary": "¥ 13,000", "email": "wang.fang@corp.cn",
             "updated_at": "2025-02-01T08:00:00+08:00", "_dlt_load_id": "load_2"},
            {"staff_id": "S00018", "name": "Li Lei", "gender": None, "hire_date": "01/03/2024",
             "dept_code": "D03", "monthly_salary": "9800", "email": "li.lei@corp.cn",
             "updated_at": "2025-01-01T00:00:00Z"},
            {"staff_id": "S00019", "name": "Zhao Wu", "gender": "X", "hire_date": "31/02/2024",
             "dept_code": "D03", "monthly_salary": "abc", "email": "zhao@corp.cn",
             "updated_at": "2025-01-01T00:00:00Z"},
        ],
    )  # fmt: skip
    wh.raw(
        "raw_erp.sales_reps",
        [
            {"emp_no": 17, "rep_name": "王 芳", "region": "East", "updated_at": "2024-05-01"},
            {"emp_no": 99, "rep_name": "Only In ERP", "region": "West", "updated_at": "2024-04-01"},
        ],
    )
    wh.raw(
        "raw_crm.users",
        [
            {"user_id": "u17", "full_name": "Fang Wang", "email": "WANG.FANG@corp.cn",
             "modified_at": "2025-03-01T00:00:00Z"},
            # no number in the id: found by its e-mail instead
            {"user_id": "admin", "full_name": "Li L.", "email": " Li.Lei@corp.cn",
             "modified_at": "2025-03-01T00:00:00Z"},
            # neither: stays unmatched, visible in the crosswalk
            {"user_id": "guest", "full_name": "Guest", "email": "guest@corp.cn",
             "modified_at": "2025-03-01T00:00:00Z"},
        ],
    )  # fmt: skip
    # a data steward's cross-reference: ERP rep 99 is the same person as E00017
    wh.raw("xref_employee", [{"source": "erp", "source_id": "99", "canonical_id": "E00017"}])
    wh.model(
        "stg_hr__employees",
        "stg_erp__sales_reps",
        "stg_crm__users",
        "int_employee__crosswalk",
        "int_employee__conformed",
    )
    return wh


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
