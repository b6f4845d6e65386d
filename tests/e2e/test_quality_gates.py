"""Quality gates on the whole graph: bad data injected into the demo enterprise is quarantined
with its reason or reported, the reconciliation adds up, and the analysts' snapshot moves on
after a run whose bad rows were held back — but not after a blocking failure.

Injected (one run): an unknown order status, a line without a quantity, an outlier line,
finance amounts and dates that are not amounts and dates, and a re-exported invoice. Then (a
second run) an order for a customer nobody knows, which only a mart-level test can catch.
Stale sources are covered in tests/integration/test_freshness.py (it needs a clock).
"""

import csv
import io
import sqlite3

import dagster as dg
import duckdb
import pytest

from demo_enterprise import DemoEnterprise
from demo_enterprise.finance import ENCODING, INVOICE_HEADER
from tributary.definitions import build_definitions
from tributary.demo_run import environment, materialize_all
from tributary.summary import summarize

SEED, SCALE = 11, 0.2
LATER = "2030-01-01 00:00:00.000000"  # a newer change, so the incremental load picks it up


def checks_by_key(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {c.asset_check_key.to_user_string(): c for c in result.get_asset_check_evaluations()}


def published_at(snapshot) -> object:
    with duckdb.connect(str(snapshot), read_only=True) as con:
        return con.execute("select max(published_at) from published_tables").fetchone()[0]


def inject_erp(erp_path) -> dict[str, int]:
    with sqlite3.connect(erp_path) as con:
        table = con.execute(
            "select name from sqlite_master where name like 'orders_%' order by name desc"
        ).fetchone()[0]
        lost, no_quantity, outlier = (
            r[0] for r in con.execute(f"select order_id from {table} order by order_id limit 3")
        )
        con.execute(
            f"update {table} set status = 'lost', updated_at = ? where order_id = ?", [LATER, lost]
        )
        con.execute(
            "update order_lines set quantity = null, updated_at = ? "
            "where order_id = ? and line_no = 1",
            [LATER, no_quantity],
        )
        con.execute(
            "update order_lines set quantity = 100000, unit_price_cny = 999, updated_at = ? "
            "where order_id = ? and line_no = 1",
            [LATER, outlier],
        )
    return {"lost": lost, "no_quantity": no_quantity, "outlier": outlier}


def inject_finance(folder) -> dict[str, str]:
    """A late export: one amount and one date no conversion can read, one re-export."""
    existing = sorted(folder.glob("invoices_*.csv"))[-1]
    with open(existing, encoding=ENCODING, newline="") as f:
        again = next(csv.DictReader(f))
    rows = [
        {**again, "发票号": "INV-BAD-1", "金额(USD)": "N/A"},
        {**again, "发票号": "INV-BAD-2", "日期": "2025年13月45日"},
        again,  # the same invoice exported a second time
    ]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=INVOICE_HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    (folder / "invoices_20291231.csv").write_bytes(text.getvalue().encode(ENCODING))
    return {"amount": "INV-BAD-1", "date": "INV-BAD-2", "again": again["发票号"]}


def unknown_customer_order(erp_path) -> int:
    with sqlite3.connect(erp_path) as con:
        table = con.execute(
            "select name from sqlite_master where name like 'orders_%' order by name desc"
        ).fetchone()[0]
        order_id = con.execute(f"select max(order_id) + 1000 from {table}").fetchone()[0]
        con.execute(
            f"insert into {table} select ?, 'SO-X-' || ?, 'C999999', \"empNo\", order_date, "
            f"status, currency, ? from {table} limit 1",
            [order_id, order_id, LATER],
        )
    return order_id


@pytest.mark.e2e
def test_bad_rows_are_quarantined_and_a_blocking_failure_keeps_the_snapshot(settings):
    enterprise = DemoEnterprise(settings.demo_dir, seed=SEED, scale=SCALE)
    instance = dg.DagsterInstance.ephemeral()
    with enterprise.serve() as env, environment(env):
        assert materialize_all(settings, instance).success
    clean = published_at(settings.snapshot)

    # 1. Row-level problems: held back or reported; the run publishes without them.
    with enterprise.serve() as env, environment(env):
        erp = inject_erp(enterprise.erp_path)
        finance = inject_finance(enterprise.finance_dir)
        result = materialize_all(settings, instance)
    assert result.success
    checks = checks_by_key(result)
    error, warn = dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN
    failed = {k: c.severity for k, c in checks.items() if not c.passed}
    assert failed["staging/stg_erp__orders:dictionary_rules"] == error
    assert failed["staging/stg_erp__order_lines:dictionary_rules"] == error
    assert failed["staging/stg_finance__invoices:dictionary_rules"] == error
    assert failed["raw_erp/orders:erp__orders__status__codes_mapped"] == warn
    lines = checks["staging/stg_erp__order_lines:dictionary_rules"].metadata["by_rule"].value
    assert "order_line.line_amount_plausible" in lines and "warn" in lines  # the outlier
    # every check on the marts and every reconciliation passed: the run published
    assert not [k for k in failed if k.startswith("marts/") or k.endswith(":reconciliation")]
    assert published_at(settings.snapshot) > clean

    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        rows = con.execute(
            "select source_id, rule, reason from quality.quarantine_order union all "
            "select source_id, rule, reason from quality.quarantine_order_line union all "
            "select source_id, rule, reason from quality.quarantine_invoice"
        ).fetchall()
        held = {(r[0], r[1]): r[2] for r in rows}
        ledger = {
            name: checks[f"{mart}:reconciliation"].metadata
            for name, mart in [("invoice", "marts/fct_invoices"), ("order", "marts/fct_orders")]
        }
    assert held[(str(erp["lost"]), "order.status.readable")] == (
        "status: no conversion could read 'lost'"
    )
    assert held[(f"{erp['no_quantity']}|1", "order_line.quantity.required")] == (
        "quantity is required but empty"
    )
    assert held[(finance["amount"], "invoice.amount.readable")] == (
        "amount: no conversion could read 'N/A'"
    )
    assert held[(finance["date"], "invoice.invoice_date.readable")] == (
        "invoice_date: no conversion could read '2025年13月45日'"
    )
    assert len(rows) == len(held) == 4  # once each; the outlier and the re-export are no errors
    # rows in = rows out + quarantined + duplicates merged (+ unmatched), term by term
    assert ledger["invoice"]["quarantined"].value == 2
    assert ledger["invoice"]["duplicates_merged"].value >= 1
    assert ledger["order"]["quarantined"].value == 1
    assert ledger["invoice"]["unexplained"].value == ledger["order"]["unexplained"].value == 0

    with duckdb.connect(str(settings.snapshot), read_only=True) as con:
        orders = {r[0] for r in con.execute("select order_id from marts.fct_orders").fetchall()}
        invoices = {
            r[0] for r in con.execute("select invoice_id from marts.fct_invoices").fetchall()
        }
        outlier_quantity = con.execute(
            "select max_line_quantity from marts.fct_orders where order_id = ?", [erp["outlier"]]
        ).fetchone()[0]
    assert erp["lost"] not in orders and erp["no_quantity"] in orders
    assert finance["amount"] not in invoices and finance["date"] not in invoices
    assert finance["again"] in invoices
    assert outlier_quantity == 100000  # a warning flows on, flagged

    # 2. A problem only the marts can see: the audit fails and the snapshot stays as it was.
    before = published_at(settings.snapshot)
    with enterprise.serve() as env, environment(env):
        stranger = unknown_customer_order(enterprise.erp_path)
        blocked = materialize_all(settings, instance)
    assert not blocked.success
    failed = [k for k, c in checks_by_key(blocked).items() if not c.passed]
    assert any(k.startswith("marts/fct_orders:relationships") for k in failed), failed
    materialized = {
        e.asset_key.to_user_string() for e in blocked.get_asset_materialization_events()
    }
    assert "marts/fct_orders" in materialized  # written to the working warehouse ...
    assert "publish/analyst_snapshot" not in materialized  # ... but never published
    assert published_at(settings.snapshot) == before
    with duckdb.connect(str(settings.snapshot), read_only=True) as con:
        assert not con.execute(
            "select count(*) from marts.fct_orders where order_id = ?", [stranger]
        ).fetchone()[0]
    assert "FAILED marts/fct_orders:relationships" in summarize(blocked, settings)

    # Publishing on its own later (UI, CLI) still refuses: the failed audit stands.
    job = build_definitions(settings).resolve_implicit_global_asset_job_def()
    alone = job.execute_in_process(
        instance=instance,
        asset_selection=[dg.AssetKey(["publish", "analyst_snapshot"])],
        raise_on_error=False,
    )
    assert not alone.success
    assert published_at(settings.snapshot) == before
