"""`tributary metrics` scraped like Prometheus would, parsed with prometheus-client's own
parser; each value equal to what the warehouse and Dagster's records say."""

import threading
import time
from datetime import UTC, datetime

import dagster as dg
import duckdb
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from test_freshness import deliver, real_load, write_spec

from tributary.operate.metrics import metrics_server

CHECK = dg.AssetCheckKey(dg.AssetKey(["quality", "quarantine_invoice"]), "few_held")


def quarantine_asset(held: int, path: str):
    """A stand-in for the quality layer's quarantine asset: the table and its recorded count."""

    @dg.asset(key=["quality", "quarantine_invoice"])
    def quarantine() -> dg.MaterializeResult:
        with duckdb.connect(path) as con:
            con.execute("create schema if not exists quality")
            con.execute("create or replace table quality.quarantine_invoice (id int)")
            con.execute(f"insert into quality.quarantine_invoice select range from range({held})")
            count = con.execute("select count(*) from quality.quarantine_invoice").fetchone()[0]
        return dg.MaterializeResult(metadata={"dagster/row_count": count})

    @dg.asset_check(asset=quarantine, name="few_held")
    def few_held() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN)

    return [quarantine, few_held]


@pytest.fixture
def scrape():
    servers = []

    def start(instance, checks):
        server = metrics_server(instance, checks, port=0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        text = requests.get(f"http://127.0.0.1:{server.server_port}/metrics", timeout=10).text
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_metrics_equal_the_warehouse_and_dagsters_records(settings, tmp_path, monkeypatch, scrape):
    instance = dg.DagsterInstance.ephemeral()
    spec = write_spec(tmp_path)
    folder = tmp_path / "exports"
    deliver(folder, "invoices_1.csv", datetime(2026, 3, 5, tzinfo=UTC))
    deliver(folder, "invoices_2.csv", datetime(2026, 3, 6, tzinfo=UTC))
    deliver(folder, "payments_1.csv", datetime(2026, 3, 5, tzinfo=UTC))
    real_load(instance, settings, spec, folder, monkeypatch)
    loaded_at = time.time()
    dg.materialize(quarantine_asset(7, str(settings.warehouse)), instance=instance)
    metrics = scrape(instance, [CHECK])
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        invoices = con.execute("select count(*) from raw_exports.invoices").fetchone()[0]
        payments = con.execute("select count(*) from raw_exports.payments").fetchone()[0]
        held = con.execute("select count(*) from quality.quarantine_invoice").fetchone()[0]
    assert (invoices, payments, held) == (2, 1, 7)
    assert metrics[("tributary_rows_loaded", (("table", "raw_exports/invoices"),))] == invoices
    assert metrics[("tributary_rows_loaded", (("table", "raw_exports/payments"),))] == payments
    assert metrics[("tributary_quarantine_rows", (("entity", "invoice"),))] == held
    for table in ("invoices", "payments"):
        recorded = instance.get_latest_materialization_event(
            dg.AssetKey(["raw_exports", table])
        ).asset_materialization.metadata
        label = (("table", f"raw_exports/{table}"),)
        assert metrics[("tributary_load_bytes", label)] == recorded["bytes"].value > 0
        assert metrics[("tributary_load_duration_seconds", label)] == recorded["duration_s"].value
    age = metrics[("tributary_seconds_since_last_load", (("source", "exports"),))]
    assert 0 <= age <= time.time() - loaded_at + 60
    failed_warn = (("result", "failed"), ("severity", "WARN"))
    assert metrics[("tributary_check_results", failed_warn)] == 1
    assert metrics[("tributary_check_results", (("result", "passed"), ("severity", "ERROR")))] == 0
