"""Quarantine, not loss: the dictionary's and the hand-written rules on real staging rows
(generated SQL run in DuckDB), what is held back and why, and its release after a fix."""

import dataclasses
from datetime import UTC, datetime

import duckdb
import pandas as pd
import pytest
from sql_harness import SOURCES, Warehouse

from tributary.contracts.dictionary import load_dictionary
from tributary.contracts.mapping import load_mappings
from tributary.contracts.resolved import mapped_tables
from tributary.contracts.rules import load_hand_rules
from tributary.contracts.source import load_specs
from tributary.contracts.specfile import SpecErrors
from tributary.quality.quarantine import StagedRules, quarantine_rows, write_quarantine
from tributary.quality.rules import failures, mart_schema, rule_columns

DAY1, DAY2 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)


def staged_rules(source: str, table: str) -> StagedRules:
    dictionary = load_dictionary(SOURCES)
    tables = mapped_tables(load_mappings(SOURCES, load_specs(SOURCES), dictionary), dictionary)
    [t] = [t for t in tables if (t.source.name, t.table) == (source, table)]
    return StagedRules(t, load_hand_rules(SOURCES, dictionary).rules)


def employee(staff_id: str, **changes) -> dict:
    row = {"staff_id": staff_id, "name": "Li Lei", "gender": "M", "hire_date": "01/03/2024",
           "dept_code": "D01", "monthly_salary": "9800", "email": "li.lei@corp.cn",
           "updated_at": "2025-01-01T00:00:00Z"}  # fmt: skip
    return row | changes


def hr_warehouse(rows: list[dict]) -> Warehouse:
    wh = Warehouse()
    wh.raw("raw_hr.employees", rows)
    wh.raw(
        "raw_erp.sales_reps",
        [{"emp_no": 1, "rep_name": "A", "region": "E", "updated_at": "2024-01-01"}],
    )
    wh.raw(
        "raw_crm.users",
        [
            {
                "user_id": "u1",
                "full_name": "A",
                "email": "a@corp.cn",
                "modified_at": "2025-01-01T00:00:00Z",
            }
        ],
    )
    wh.raw("xref_employee", [{"source": "none", "source_id": "none", "canonical_id": "E00001"}])
    wh.model("stg_hr__employees", "stg_erp__sales_reps", "stg_crm__users",
             "int_employee__crosswalk", "int_employee__conformed")  # fmt: skip
    return wh


BAD = [
    employee("S00001"),
    employee("S00002", name="  "),  # required, empty: block
    employee("S00003", hire_date="12/12/2999"),  # hand-written rule: block
    employee("S00004", gender="X", monthly_salary="abc"),  # optional, unreadable: warn
    employee("S00005", email="not-an-e-mail"),  # pattern on an optional field: warn
]


def test_each_rule_fails_with_its_severity_and_reason():
    wh = hr_warehouse(BAD)
    frame, failed = staged_rules("hr", "employees").evaluate(wh.con)
    by_id = {
        (frame.iloc[f.index]["_source_id"], f.rule): (f.severity, f.reason)
        for f in failed.itertuples()
    }
    assert by_id == {
        ("S00002", "employee.full_name.required"): ("block", "full_name is required but empty"),
        ("S00003", "employee.hire_date_not_in_future"): (
            "block", "The hire date is in the future.",
        ),
        # personal data (gender, salary, e-mail) is never written into a reason
        ("S00004", "employee.gender.readable"): (
            "warn", "gender: no conversion could read a value (withheld: personal data)",
        ),
        ("S00004", "employee.monthly_salary.readable"): (
            "warn", "monthly_salary: no conversion could read a value (withheld: personal data)",
        ),
        ("S00005", "employee.email.pattern"): (
            "warn",
            "email a value (withheld: personal data) does not look like "
            "^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$",
        ),
    }  # fmt: skip


def test_blocked_rows_are_quarantined_kept_out_and_released_after_a_fix():
    wh = hr_warehouse(BAD)
    staged = staged_rules("hr", "employees")
    frame, failed = staged.evaluate(wh.con)
    counts = write_quarantine(wh.con, "employee", quarantine_rows(frame, failed), DAY1)
    assert counts == {"quarantined": 2, "entered": 2, "released": 0}
    held = wh.rows(
        "select source, source_table, source_id, rule, reason, load_id, quarantined_at, "
        "record->>'full_name' from quality.quarantine_employee order by source_id"
    )
    assert [h[:4] for h in held] == [
        ("hr", "employees", "S00002", "employee.full_name.required"),
        ("hr", "employees", "S00003", "employee.hire_date_not_in_future"),
    ]
    assert held[0][5] == "load_1" and held[0][6] == DAY1.replace(tzinfo=None)
    # held back from the conformed model; the warnings flow on
    conformed = {r[0] for r in wh.rows("select employee_id from int_employee__conformed")}
    assert {"E00001", "E00004", "E00005"} <= conformed
    assert not {"E00002", "E00003"} & conformed

    # HR fixes the name; the next build releases it and keeps the other one, with its first date
    wh.con.execute("update raw_hr.employees set name = 'Wang Wu' where staff_id = 'S00002'")
    frame, failed = staged.evaluate(wh.con)
    counts = write_quarantine(wh.con, "employee", quarantine_rows(frame, failed), DAY2)
    assert counts == {"quarantined": 1, "entered": 0, "released": 1}
    assert wh.rows("select source_id, quarantined_at from quality.quarantine_employee") == [
        ("S00003", DAY1.replace(tzinfo=None))
    ]
    conformed = {r[0] for r in wh.rows("select employee_id from int_employee__conformed")}
    assert "E00002" in conformed and "E00003" not in conformed
    # a row given twice (e.g. two rows sharing a record id) is held once, and stays once
    rows = quarantine_rows(frame, failed)
    for _ in range(3):
        write_quarantine(wh.con, "employee", pd.concat([rows, rows]), DAY2)
    assert wh.rows("select count(*) from quality.quarantine_employee") == [(1,)]
    log = wh.rows("select event, source_id from quality.quarantine_log order by logged_at, 2")
    assert log == [("quarantined", "S00002"), ("quarantined", "S00003"), ("released", "S00002")]


def test_a_bad_hand_written_rule_names_its_line(tmp_path):
    folder = tmp_path / "sources"
    (folder / "quality").mkdir(parents=True)
    (folder / "quality" / "rules.yaml").write_text(
        "rules:\n  - name: bad\n    entity: employee\n    expression: hire_dat <= current_date\n"
        "    reason: x\n"
    )
    with pytest.raises(SpecErrors) as exc:
        load_hand_rules(folder, load_dictionary(SOURCES))
    [error] = exc.value.errors
    assert error.line == 4 and "hire_dat" in error.message


def test_mart_rules_name_their_line_when_the_mart_or_the_condition_is_wrong(tmp_path):
    folder = tmp_path / "sources"
    (folder / "quality").mkdir(parents=True)
    (folder / "quality" / "rules.yaml").write_text(
        "mart_rules:\n"
        "  - name: a\n    mart: fct_order\n    expression: n_lines >= 1\n    reason: x\n"
        "  - name: b\n    mart: fct_orders\n    expression: n_lines >=\n    reason: x\n"
    )
    with pytest.raises(SpecErrors) as exc:
        load_hand_rules(folder, load_dictionary(SOURCES))
    unknown, syntax = exc.value.errors
    assert unknown.line == 3 and "fct_order'" in unknown.message and "fct_orders" in unknown.fix
    assert syntax.line == 8 and "syntax error" in syntax.message


def test_a_declared_mart_rule_flags_the_rows_that_break_it():
    """The demo's order formats are declared in sources/quality/rules.yaml, not in code."""
    rules = load_hand_rules(SOURCES, load_dictionary(SOURCES)).mart_rules
    own = [r for r in rules if r.mart == "fct_orders"]
    assert {"order_no_format", "amount_base_is_converted_local_amount"} <= {r.name for r in own}
    with duckdb.connect() as con:
        con.execute(
            "create table fct_orders as select * from (values "
            "('SO-2024-1', 'C1', 'E00001', 'CNY', 10.0, 1.0, 10.0, 1), "
            "('SO-24-2', 'C2', 'E00002', 'CNY', 10.0, 0.5, 9.0, 1)) "
            "as t(order_no, customer_id, employee_id, currency, amount_local, fx_rate, "
            "amount_base, n_lines)"
        )
        frame = con.execute(f"select *{rule_columns(own)} from fct_orders").df()
    found = failures(frame, mart_schema("fct_orders", own))
    assert set(found["index"]) == {1}
    assert set(found["rule"]) == {
        "fct_orders.order_no_format",
        "fct_orders.amount_base_is_converted_local_amount",
    }
    assert set(found["severity"]) == {"block"}


def test_an_unmapped_field_named_by_a_reserved_word_is_quoted(tmp_path):
    # Regression: the unmapped fields a hand-written rule may name are added as nulls and
    # excluded again by name; `exclude (order)` was a syntax error for a field called `order`.
    staged = staged_rules("hr", "employees")
    entity = staged.table.entity
    fields = {**entity.fields, "order": entity.fields["employee_id"].model_copy()}
    table = dataclasses.replace(staged.table, entity=entity.model_copy(update={"fields": fields}))
    frame, failed = StagedRules(table, staged.hand).evaluate(hr_warehouse(BAD).con)
    assert "order" not in frame.columns  # excluded again, by its quoted name
    assert {"employee.hire_date_not_in_future", "employee.full_name.required"} <= set(failed.rule)
