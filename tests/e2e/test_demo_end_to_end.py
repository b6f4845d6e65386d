"""The whole graph, in process, against the demo enterprise — checked against its truth.

Two runs: day 0 loads everything; after the demo clock moves a day, the second run loads only
what changed, and the snapshot again equals the truth of the new day. Bad data and blocking
failures: test_quality_gates.py.
"""

import re
from collections import Counter
from datetime import datetime

import dagster as dg
import duckdb
import pytest

from demo_enterprise import STATUSES, DemoEnterprise
from tributary.contracts.resolved import load_mappings_for
from tributary.demo_run import environment, materialize_all
from tributary.summary import summarize

SEED, SCALE = 11, 0.2


def rows_loaded(result: dg.ExecuteInProcessResult) -> dict[str, int]:
    return {
        e.materialization.asset_key.to_user_string(): e.materialization.metadata[
            "rows_loaded"
        ].value
        for e in result.get_asset_materialization_events()
        if "rows_loaded" in e.materialization.metadata
    }


def by_key(con, sql: str) -> dict:
    """Rows keyed by their first column, the rest as a tuple."""
    return {row[0]: row[1:] for row in con.execute(sql).fetchall()}


def assert_snapshot_matches_truth(snapshot, truth) -> None:
    with duckdb.connect(str(snapshot), read_only=True) as con:
        employees = by_key(
            con,
            "select employee_id, full_name, gender, hire_date, monthly_salary, email, "
            "hr_staff_id, erp_emp_no, crm_user_id from marts.dim_employee",
        )
        orders = by_key(
            con,
            "select order_id, order_date, customer_id, employee_id, status, amount_local, "
            "fx_rate, amount_base from marts.fct_orders",
        )
        customers = by_key(
            con,
            "select customer_id, company_name, phone_e164, email, owner_employee_id, "
            "created_at from marts.dim_customer",
        )
        invoices = con.execute(
            "select count(*), sum(amount_base) from marts.fct_invoices"
        ).fetchone()
        flagged = {
            r[0]
            for r in con.execute(
                "select order_id from ml.order_anomalies where is_anomaly"
            ).fetchall()
        }
        reasons = con.execute(
            "select count(*) from ml.order_anomalies where is_anomaly and reason is null"
        ).fetchone()[0]

    # staffID, empNo and user_id conform into exactly the employees the truth knows.
    assert len(employees) == len(truth.employees)
    for e in truth.employees:
        assert employees[e["employee_id"]] == (
            e["name"],
            e["gender"],
            e["hire_date"],
            e["monthly_salary_cny"],
            e["email"],
            e["staff_id"],
            None if e["emp_no"] is None else str(e["emp_no"]),
            e["crm_user_id"],
        ), e["employee_id"]

    assert set(orders) == {o["order_id"] for o in truth.orders}
    for o in truth.orders:
        assert orders[o["order_id"]] == (
            o["order_date"],
            o["customer_id"],
            o["employee_id"],
            o["status"],
            o["amount_cny"],
            o["fx_rate"],
            o["amount_usd"],
        ), o["order_id"]
    # The total in the base currency, to the cent.
    assert sum(v[-1] for v in orders.values()) == sum(o["amount_usd"] for o in truth.orders)

    assert len(customers) == len(truth.customers)
    for c in truth.customers:
        assert customers[c["customer_id"]] == (
            c["company_name"],
            c["phone_e164"],
            c["email"],
            c["owner_employee_id"],
            c["created_at_utc"].replace(tzinfo=None),
        ), c["customer_id"]

    assert invoices == (len(truth.invoices), sum(i["amount_usd"] for i in truth.invoices))

    planted = truth.anomalous_order_ids
    assert len(flagged & planted) / len(planted) >= 0.8
    assert len(flagged) <= 2 * len(planted)
    assert reasons == 0


# Fidelity: each mapped field of the demo's messy systems, raw value against the truth. A raw
# value is "clean" when it is already in the canonical form; "dirty" when a system's mess
# (hanzi genders, ¥ salaries, upper-case e-mails, phone layouts, offsets, status spellings)
# must be corrected by a declared rule. (staging model, raw table, raw id, truth list,
# truth key, [(raw column, canonical column, truth field, is the raw value clean?)])
_LOWER = str.islower
FIDELITY = [
    ("stg_hr__employees", "raw_hr.employees", "staff_id", "employees", "employee_id", [
        ("gender", "gender", "gender", lambda v: v in ("M", "F")),
        ("monthly_salary", "monthly_salary", "monthly_salary_cny",
         lambda v: re.fullmatch(r"\d+\.\d\d", v) is not None),
        ("email", "email", "email", _LOWER),
        ("hire_date", "hire_date", "hire_date", lambda v: False),  # DD/MM/YYYY is never ISO
        ("name", "full_name", "name", lambda v: v == v.strip()),
    ]),
    ("stg_crm__customers", "raw_crm.customers", "id", "customers", "customer_id", [
        ("contact_phone", "phone_e164", "phone_e164",
         lambda v: re.fullmatch(r"\+86\d{11}", v) is not None),
        ("email", "email", "email", _LOWER),
        ("created_at", "created_at", "created_at_utc", lambda v: v.endswith("Z")),
        ("company_name", "company_name", "company_name", lambda v: v == v.strip()),
    ]),
    ("stg_erp__orders", "raw_erp.orders", "order_id", "orders", "order_id", [
        ("status", "status", "status", lambda v: v in STATUSES),
        ("emp_no", "employee_id", "employee_id", lambda v: False),  # 17 is never E00017
    ]),
]  # fmt: skip


def canonical(value):
    """Truth values as the warehouse stores them (UTC timestamps without a zone)."""
    return value.replace(tzinfo=None) if isinstance(value, datetime) else value


def fidelity(warehouse, truth) -> list[tuple]:
    """(field, clean, clean exact, dirty, corrected, flagged, wrong) per mapped field."""
    report = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for model, raw, raw_id, truth_list, truth_key, fields in FIDELITY:
            expected = {r[truth_key]: r for r in getattr(truth, truth_list)}
            for raw_col, column, truth_field, is_clean in fields:
                rows = con.execute(
                    f"select cast(raw.{raw_col} as varchar), stg.{column}, stg.{truth_key} "
                    f"from {raw} as raw join staging.{model} as stg "
                    f"on stg._source_id = cast(raw.{raw_id} as varchar)"
                ).fetchall()
                counts = Counter()
                for raw_value, value, key in rows:
                    want = canonical(expected[key][truth_field])
                    clean = raw_value is not None and is_clean(raw_value)
                    if raw_value is None and want is None:
                        clean = True
                    if clean:
                        counts["clean"] += 1
                        counts["clean_exact"] += value == want
                        counts["wrong"] += value != want
                    else:
                        counts["dirty"] += 1
                        counts["corrected"] += value == want
                        counts["flagged"] += value is None and want is not None
                        counts["wrong"] += value is not None and value != want
                report.append(
                    (f"{raw}.{raw_col} → {column}", *(counts[k] for k in
                     ("clean", "clean_exact", "dirty", "corrected", "flagged", "wrong")))
                )  # fmt: skip
    return report


def assert_mapped_fields_are_loaded(settings) -> None:
    """Every source field a mapping reads exists in its raw table, under dlt's name."""
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        columns = set(
            con.execute(
                "select table_schema || '.' || table_name || '.' || column_name "
                "from information_schema.columns"
            ).fetchall()
        )
    _, mappings = load_mappings_for(settings)
    assert {m.name for m in mappings} == {"hr", "crm", "erp", "finance"}
    for mapping in mappings:
        for table, tmap in mapping.mapping.tables.items():
            for field in tmap.fields:
                column = f"{mapping.spec.dataset}.{table}.{mapping.raw_column(field)}"
                assert (column,) in columns, column


@pytest.mark.e2e
def test_demo_end_to_end_matches_truth_and_loads_incrementally(settings):
    enterprise = DemoEnterprise(settings.demo_dir, seed=SEED, scale=SCALE)
    instance = dg.DagsterInstance.ephemeral()

    with enterprise.serve() as env, environment(env):
        first = materialize_all(settings, instance)
        secrets = [env["HR_CLIENT_SECRET"], env["CRM_API_KEY"]]
    assert first.success
    # No secret in any event, log line or metadata of the run.
    logged = "\n".join(repr(entry) for entry in instance.all_logs(first.run_id))
    assert len(logged) > 10_000 and not any(secret in logged for secret in secrets)
    checks = first.get_asset_check_evaluations()
    failed = {c.asset_check_key.to_user_string(): c.severity for c in checks if not c.passed}
    assert len(checks) > 30 and dg.AssetCheckSeverity.ERROR not in failed.values(), failed
    # The demo's planted anomalies stand out, and its generator reuses company names: the
    # only warnings are those, by design.
    assert {k.split(":")[1] for k in failed} <= {"numeric_outliers", "near_duplicates"}, failed
    assert_snapshot_matches_truth(settings.snapshot, enterprise.truth())
    assert_mapped_fields_are_loaded(settings)
    report = fidelity(settings.warehouse, enterprise.truth())
    print("\nfidelity: field, clean, clean exact, dirty, corrected, flagged, wrong")
    for line in report:
        print("  ", *line)
    # Every clean value reconstructed exactly; every dirty one corrected or flagged.
    for field, clean, exact, dirty, corrected, flagged, wrong in report:
        assert (exact, corrected + flagged, wrong) == (clean, dirty, 0), field
    assert sum(r[3] for r in report) > 500  # the demo's mess is really there
    metadata = {
        e.materialization.asset_key.to_user_string(): e.materialization.metadata
        for e in first.get_asset_materialization_events()
    }
    orders = metadata["raw_erp/orders"]
    assert orders["bytes"].value > 0 and orders["duration_s"].value > 0
    assert orders["schema_version"].value >= 1
    assert metadata["raw_finance/invoices"]["files_failed"].value == 0
    loaded_first = rows_loaded(first)
    assert loaded_first["raw_erp/orders"] == len(enterprise.truth().orders)

    enterprise.advance(1)
    with enterprise.serve() as env, environment(env):
        second = materialize_all(settings, instance)
    assert second.success
    assert_snapshot_matches_truth(settings.snapshot, enterprise.truth())
    loaded_second = rows_loaded(second)
    # Only new and changed records: a small fraction of the first load, but not nothing.
    for key in ("raw_erp/orders", "raw_erp/order_lines", "raw_hr/employees"):
        assert 0 < loaded_second[key] < loaded_first[key] / 5, key
    assert loaded_second["raw_finance/invoices"] < loaded_first["raw_finance/invoices"] / 5
    summary = summarize(second, settings)
    assert "run succeeded" in summary and "0 failed" in summary
    assert str(settings.snapshot) in summary
