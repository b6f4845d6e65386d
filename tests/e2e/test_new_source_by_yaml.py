"""A new system integrated with YAML only: a payroll provider's export with its own names
(工号, 姓名, 入职日期), codes (男性/女性), spreadsheet dates and European amounts, in GB18030.

Two files — the source and its mapping — then `tributary generate`, and the whole graph
runs: the payroll's people join the employees the other systems know, and the one person only
payroll knows becomes an employee with every value converted.
"""

import csv
import io
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from demo_enterprise import DemoEnterprise
from tributary.cli import generate
from tributary.demo_run import environment, materialize_all
from tributary.settings import PROJECT_ROOT, Settings

SOURCE = """\
name: payroll
description: Payroll provider (monthly GB18030 CSV export) — who is paid what
kind: filesystem
naming: duck_case
filesystem:
  bucket_url: ${PAYROLL_EXPORT_DIR}
  tables:
    - name: staff
      glob: "staff_*.csv"
      encoding: gb18030
"""
MAPPING = """\
tables:
  staff:
    entity: employee
    fields:
      工号: employee_id
      姓名: full_name
      性别: {to: gender, codes: {男性: M, 女性: F}}
      入职日期: {to: hire_date, formats: [excel_serial]}
      部门: department_code
      月薪: {to: monthly_salary, currency_field: 币种, decimal_mark: ","}
      邮箱: email
"""
HEADER = "工号,姓名,性别,入职日期,部门,月薪,币种,邮箱,开户行"


def excel_serial(day: date) -> int:
    return (day - date(1899, 12, 30)).days


def european(amount: Decimal) -> str:
    """12345.67 as the payroll writes it: 12.345,67."""
    return f"{amount:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def payroll_export(folder: Path, employees: list[dict]) -> None:
    rows = [
        [
            f"EMP-{int(e['employee_id'][1:])}",
            e["name"],
            {"M": "男性", "F": "女性"}.get(e["gender"], ""),
            excel_serial(e["hire_date"]),
            e["department_code"],
            european(e["monthly_salary_cny"]),
            "CNY",
            e["email"].upper(),
            "招商银行",  # the bank: a column no mapping reads
        ]
        for e in employees
    ]
    contractor = ["EMP-9001", "欧阳娜娜", "女性", excel_serial(date(2024, 2, 29)), "D02",
                  "8.500,50", "EUR", "Nana.OuYang@Example.COM", "中国银行"]  # fmt: skip
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows([HEADER.split(","), *rows, contractor])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "staff_20251231.csv").write_bytes(text.getvalue().encode("gb18030"))


@pytest.mark.e2e
def test_a_new_system_needs_only_yaml(project: Settings, tmp_path: Path):
    enterprise = DemoEnterprise(project.demo_dir, seed=5, scale=0.1)
    truth = {e["employee_id"]: e for e in enterprise.truth().employees}
    paid = sorted(truth)[:5]
    payroll_export(tmp_path / "payroll", [truth[k] for k in paid])

    (project.sources_dir / "payroll.yaml").write_text(SOURCE, encoding="utf-8")
    (project.sources_dir / "payroll.mapping.yaml").write_text(MAPPING, encoding="utf-8")
    assert generate(project, check=False) == 0
    # the dictionary page of the copy lists the new system; the project's own is untouched
    page = (tmp_path / "docs" / "dictionary.md").read_text(encoding="utf-8")
    assert "payroll.staff.`入职日期`" in page
    assert "payroll" not in (PROJECT_ROOT / "docs" / "dictionary.md").read_text(encoding="utf-8")
    staging = project.dbt_project_dir / "models" / "staging" / "payroll" / "stg_payroll__staff.sql"
    assert "excel_serial" in staging.read_text(encoding="utf-8")
    dbt = Path(sys.executable).with_name("dbt")
    subprocess.run(
        [str(dbt), "parse", "--quiet", "--profiles-dir", "."],
        cwd=project.dbt_project_dir,
        check=True,
    )

    instance = dg.DagsterInstance.ephemeral()
    with (
        enterprise.serve() as env,
        environment({**env, "PAYROLL_EXPORT_DIR": str(tmp_path / "payroll")}),
    ):
        result = materialize_all(project, instance)
    assert result.success
    checks = result.get_asset_check_evaluations()
    failed = {c.asset_check_key.to_user_string(): c.severity for c in checks if not c.passed}
    assert dg.AssetCheckSeverity.ERROR not in failed.values(), failed
    # only the demo's planted anomalies and reused company names stand out, by design
    assert {k.split(":")[1] for k in failed} <= {"numeric_outliers", "near_duplicates"}, failed

    with duckdb.connect(str(project.snapshot), read_only=True) as con:
        employees = {
            r[0]: r[1:]
            for r in con.execute(
                "select employee_id, full_name, gender, hire_date, monthly_salary, "
                "monthly_salary_currency, email, source_systems from marts.dim_employee"
            ).fetchall()
        }
        crosswalk = con.execute(
            "select source_id, canonical_id, matched_by from marts.crosswalk "
            "where source = 'payroll' order by source_id"
        ).fetchall()

    # The payroll's people are the employees HR knows: one row each, payroll among their sources.
    assert len(employees) == len(truth) + 1
    for key in paid:
        assert "payroll" in employees[key][-1] and "hr" in employees[key][-1], key
        assert employees[key][0] == truth[key]["name"]  # HR, the system of record, wins
    # The contractor only payroll knows: every value converted by the mapping alone.
    assert employees["E09001"] == (
        "欧阳娜娜",
        "F",
        date(2024, 2, 29),
        Decimal("8500.50"),
        "EUR",
        "nana.ouyang@example.com",
        ["payroll"],
    )
    assert crosswalk == sorted(
        [(f"EMP-{int(k[1:])}", k, "key") for k in paid] + [("EMP-9001", "E09001", "key")]
    )
    # Payroll's hire dates and salaries, converted from its own formats, agree with HR's truth.
    with duckdb.connect(str(project.warehouse), read_only=True) as con:
        staged = {
            r[0]: r[1:]
            for r in con.execute(
                "select employee_id, hire_date, monthly_salary, gender "
                "from staging.stg_payroll__staff"
            ).fetchall()
        }
    for key in paid:
        t = truth[key]
        assert staged[key] == (t["hire_date"], t["monthly_salary_cny"], t["gender"]), key
