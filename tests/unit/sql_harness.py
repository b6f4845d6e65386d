"""Generated dbt models rendered with plain Jinja (the conversion macros and
`source`/`ref`/`var`) and run in an in-memory DuckDB, without dbt: each case takes
milliseconds; the end-to-end tests run the same models under dbt."""

import re
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import jinja2
import pandas as pd

from tributary.contracts.dictionary import load_dictionary
from tributary.contracts.mapping import load_mappings
from tributary.contracts.resolved import quote
from tributary.contracts.source import load_specs
from tributary.quality.quarantine import quarantine_rows, write_quarantine
from tributary.settings import PROJECT_ROOT
from tributary.standardize.dbt_codegen.project import generated_files

SOURCES = PROJECT_ROOT / "sources"
EMPTY = pd.DataFrame([], columns=["index", "rule", "severity", "reason"])
NOW = datetime(2026, 1, 1, tzinfo=UTC)
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
        for entity in load_dictionary(SOURCES).entities:  # nothing quarantined (yet)
            write_quarantine(self.con, entity, quarantine_rows(pd.DataFrame(), EMPTY), NOW)

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
            # also under the layer's schema, as the quality layer reads it
            schema = "staging" if name.startswith("stg_") else "intermediate"
            self.con.execute(f"create schema if not exists {schema}")
            self.con.execute(f"create view {schema}.{name} as select * from main.{name}")

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
