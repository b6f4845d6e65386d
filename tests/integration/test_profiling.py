"""Duplicates, outliers and volumes, checked by Dagster on a real DuckDB warehouse and a real
(ephemeral) Dagster instance: planted duplicates and outliers are found, a shrunken load warns,
a normal incremental load does not.

The conformed and raw tables are written by small stand-in assets, so each test runs the real
checks in a real Dagster run without building the whole platform.
"""

import json
from collections.abc import Callable

import dagster as dg
import dlt
import pandas as pd
import pytest

from tributary.definitions import build_definitions
from tributary.quality.monitors import build_monitor_checks, volume
from tributary.quality.monitors.history import build_history_assets
from tributary.quality.monitors.targets import HISTORY_SCHEMA, HISTORY_TABLE, PROFILE_HISTORY_KEY
from tributary.quality.monitors.volume_checks import volume_checks
from tributary.settings import Settings
from tributary.warehouse import WAREHOUSE_POOL, Warehouse, connect


def table_asset(settings: Settings, key: list[str], frame: Callable[[], pd.DataFrame]):
    """A stand-in for the dbt model or dlt load that builds ``schema.table``."""

    @dg.asset(key=key, pool=WAREHOUSE_POOL)
    def _build() -> dg.MaterializeResult:
        data = frame()
        with connect(settings.warehouse) as con:
            con.execute(f'create schema if not exists "{key[0]}"')
            con.register("data", data)
            con.execute(f'create or replace table "{key[0]}"."{key[1]}" as select * from data')
        return dg.MaterializeResult(metadata={"rows_loaded": len(data)})

    return _build


def checks_on(settings: Settings, key: dg.AssetKey) -> list[dg.AssetChecksDefinition]:
    return [
        c for c in build_monitor_checks(settings) if any(k.asset_key == key for k in c.check_keys)
    ]


def run(assets: list, instance: dg.DagsterInstance) -> dict[str, dg.AssetCheckEvaluation]:
    # the warehouse of the `settings` fixture, which points the environment at a temporary one
    warehouse = Warehouse(path=str(Settings.from_env().warehouse))
    result = dg.materialize(assets, instance=instance, resources={"warehouse": warehouse})
    assert result.success
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


CUSTOMER = dg.AssetKey(["intermediate", "int_customer__conformed"])
INVOICE = dg.AssetKey(["intermediate", "int_invoice__conformed"])


def customers() -> pd.DataFrame:
    rows = [
        ("C000001", "Acme Trading Co., Ltd.", "+8613800000001"),
        ("C000002", "ACME Trading Co Ltd", "+8613800000001"),  # planted: punctuation only
        ("C000003", "上海华信科技有限公司", "+8613900000003"),
        ("C000004", "上海华信科技有限公司 ", None),  # planted: the same, phone missing
        ("C000005", "上海华信贸易有限公司", "+8613900000005"),  # same group, other business
        ("C000006", "Apex Trading Co Ltd", "+8613700000006"),  # distinct
        ("C000007", "Globex Corporation", "+8613700000007"),  # distinct
        ("C000008", "ＧＬＯＢＥＸ  Corporation", "+8613700000007"),  # planted: exact
        ("C000009", "Initech", "+8613700000009"),
        ("C000010", "Initech", "+8613700000010"),  # same name, other phone: a clash, not
    ]
    frame = pd.DataFrame(rows, columns=["customer_id", "company_name", "phone_e164"])
    return frame.assign(
        email="buyer@example.com", owner_employee_id="E00001", created_at=pd.Timestamp(0)
    )


def test_planted_duplicate_companies_are_found_and_distinct_ones_are_not(settings):
    evaluations = run(
        [table_asset(settings, CUSTOMER.path, customers), *checks_on(settings, CUSTOMER)],
        dg.DagsterInstance.ephemeral(),
    )
    exact, near = evaluations["exact_duplicates"], evaluations["near_duplicates"]
    assert not exact.passed and exact.severity == dg.AssetCheckSeverity.WARN
    assert exact.metadata["duplicate_groups"].value == 1
    assert "C000007" in exact.metadata["sample"].value
    assert "C000008" in exact.metadata["sample"].value
    assert not near.passed and near.metadata["pairs_found"].value == 2
    sample = near.metadata["sample"].value
    assert "C000001" in sample and "C000002" in sample  # "Co., Ltd." vs "Co Ltd"
    assert "C000003" in sample and "C000004" in sample  # one phone missing
    for distinct in ("C000005", "C000006", "C000009", "C000010"):
        assert distinct not in sample
    assert "+86********001" in sample and "+8613800000001" not in sample  # personal: masked


def invoices(amount_factor: float = 1.0, planted: float | None = None) -> pd.DataFrame:
    amounts = [1200.0 + 37.0 * (i % 23) for i in range(60)]
    frame = pd.DataFrame(
        {
            "invoice_id": [f"INV-{i:06d}" for i in range(60)],
            "order_no": [f"SO-2024-{i:06d}" for i in range(60)],
            "customer_id": "C000001",
            "invoice_date": pd.Timestamp("2024-03-05"),
            "amount": [a * amount_factor for a in amounts],
            "amount_currency": "USD",
        }
    )
    if planted is not None:
        frame.loc[7, "amount"] = planted
    return frame.assign(amount_base=frame["amount"])


def test_a_planted_outlier_amount_is_flagged(settings):
    evaluations = run(
        [
            table_asset(settings, INVOICE.path, lambda: invoices(planted=150_000.0)),
            *checks_on(settings, INVOICE),
        ],
        dg.DagsterInstance.ephemeral(),
    )
    outliers = evaluations["numeric_outliers"]
    assert not outliers.passed and outliers.metadata["outlying_values"].value == 1
    assert "INV-000007" in outliers.metadata["sample"].value
    # no history yet: the shift check passes and says why
    shift = evaluations["distribution_shift"]
    assert shift.passed and "not judged yet" in shift.metadata["note"].value


def test_a_median_that_jumps_against_history_warns(settings):
    instance = dg.DagsterInstance.ephemeral()
    factor = {"value": 1.0}
    [history] = build_history_assets(settings)
    assets = [
        table_asset(settings, INVOICE.path, lambda: invoices(factor["value"])),
        history,
        *checks_on(settings, INVOICE),
    ]
    for build in range(5):  # five ordinary builds, amounts wobbling by a few percent
        factor["value"] = 1.0 + 0.01 * (build % 3)
        assert run(assets, instance)["distribution_shift"].passed
    with connect(settings.warehouse, read_only=True) as con:
        recorded = con.execute(
            f"select count(*) from {HISTORY_SCHEMA}.{HISTORY_TABLE} where entity = 'invoice'"
        ).fetchone()[0]
    assert recorded == 5  # one row (amount, USD) per build
    factor["value"] = 1.01
    assert run(assets, instance)["distribution_shift"].passed  # judged now, and ordinary
    factor["value"] = 100.0  # amounts suddenly in cents
    shift = run(assets, instance)["distribution_shift"]
    assert not shift.passed and shift.metadata["statistics_moved"].value == 2  # median, p99
    assert shift.severity == dg.AssetCheckSeverity.WARN


# --- volumes ----------------------------------------------------------------------------------

PEOPLE = dg.AssetKey(["raw_test", "people"])


def raw_people(settings: Settings, state: dict) -> dg.AssetsDefinition:
    """A stand-in dlt load: writes ``state['rows']`` new or changed rows the way dlt records
    them (the table, and the write disposition in ``_dlt_version``)."""

    @dg.asset(key=PEOPLE.path, pool=WAREHOUSE_POOL)
    def _load() -> dg.MaterializeResult:
        ids = list(range(state["first_id"], state["first_id"] + state["rows"]))
        schema = {"tables": {"people": {"write_disposition": state["disposition"]}}}
        with connect(settings.warehouse) as con:
            con.execute("create schema if not exists raw_test")
            con.execute("create table if not exists raw_test.people (id bigint primary key)")
            con.execute(
                "create table if not exists raw_test._dlt_version "
                "(inserted_at timestamp, schema varchar)"
            )
            con.execute("insert into raw_test._dlt_version values (now(), ?)", [json.dumps(schema)])
            if state["disposition"] == "replace":
                con.execute("delete from raw_test.people")
            con.execute("insert or replace into raw_test.people select unnest(?)", [ids])
        return dg.MaterializeResult(metadata={"rows_loaded": len(ids), "jobs": []})

    return _load


def volume_run(settings, instance, state, **change) -> dg.AssetCheckEvaluation:
    state.update(change)
    check = volume_checks("raw_test", ["people"])
    return run([raw_people(settings, state), check], instance)["volume"]


def test_a_sudden_shrink_of_a_full_load_warns(settings):
    instance = dg.DagsterInstance.ephemeral()
    state = {"disposition": "replace", "first_id": 0, "rows": 1000}
    for _ in range(3):
        assert volume_run(settings, instance, state).passed
    ordinary = volume_run(settings, instance, state, rows=900)
    assert ordinary.passed and ordinary.metadata["usual_rows_loaded"].value == 1000
    shrunk = volume_run(settings, instance, state, rows=120)
    assert not shrunk.passed and shrunk.severity == dg.AssetCheckSeverity.WARN
    assert "12% of the usual 1,000" in shrunk.metadata["verdict"].value
    assert "recent_loads" in shrunk.metadata


def test_a_small_incremental_load_passes_and_a_shrunken_table_warns(settings):
    instance = dg.DagsterInstance.ephemeral()
    state = {"disposition": "merge", "first_id": 0, "rows": 1000}
    assert volume_run(settings, instance, state).passed  # the initial full extract
    for day in range(4):  # then a few changed records a day
        small = volume_run(settings, instance, state, first_id=1000 + 5 * day, rows=5)
        assert small.passed, small.metadata["verdict"].value
    assert small.metadata["rows_loaded"].value == 5
    assert small.metadata[volume.TABLE_ROWS].value == 1020
    with connect(settings.warehouse) as con:  # a purge at the source, replayed by a load
        con.execute("delete from raw_test.people where id >= 300")
    shrunk = volume_run(settings, instance, state, first_id=2000, rows=5)
    assert not shrunk.passed
    assert "table rows: 305" in shrunk.metadata["verdict"].value


def test_write_disposition_is_read_from_a_real_dlt_dataset(settings, tmp_path):
    settings.warehouse.parent.mkdir(parents=True)
    pipeline = dlt.pipeline(
        "volume_test",
        destination=dlt.destinations.duckdb(str(settings.warehouse)),
        dataset_name="raw_test",
        pipelines_dir=str(tmp_path / "dlt"),
    )
    pipeline.run([{"id": 1}], table_name="people", write_disposition="replace")
    with connect(settings.warehouse, read_only=True) as con:
        assert volume.write_disposition(con, "raw_test", "people") == "replace"
    pipeline.run([{"id": 2}], table_name="people", write_disposition="merge", primary_key="id")
    with connect(settings.warehouse, read_only=True) as con:
        assert volume.write_disposition(con, "raw_test", "people") == "merge"
        assert volume.table_rows(con, "raw_test", "people") == 2
        assert volume.write_disposition(con, "raw_nothing", "people") is None


# --- wiring -----------------------------------------------------------------------------------


@pytest.fixture
def platform_with_profiling(settings) -> dg.Definitions:
    """The platform's definitions, profiling layer included."""
    return build_definitions(settings)


def test_every_profiling_check_targets_a_platform_asset_in_the_warehouse_pool(
    platform_with_profiling,
):
    defs = platform_with_profiling
    graph = defs.resolve_asset_graph()  # fails if a check names an asset that does not exist
    names = {k.to_user_string() for k in graph.asset_check_keys}
    assert {
        "intermediate/int_customer__conformed:exact_duplicates",
        "intermediate/int_customer__conformed:near_duplicates",
        "intermediate/int_invoice__conformed:numeric_outliers",
        "intermediate/int_invoice__conformed:distribution_shift",
        "staging/stg_crm__customers:duplicates_merged",
        "raw_erp/orders:volume",
    } <= names
    parents = graph.get(PROFILE_HISTORY_KEY).parent_keys
    assert INVOICE in parents and CUSTOMER not in parents  # customers have no numeric field
    job = defs.resolve_implicit_global_asset_job_def()
    pools = {n.name: n.definition.pool for n in job.graph.node_dict.values()}
    profiling = [n for n in pools if n.endswith(("_duplicates", "_outliers", "_shift"))]
    profiling += [n for n in pools if n.startswith("volume_") or "profile_history" in n]
    assert profiling and {pools[n] for n in profiling} == {WAREHOUSE_POOL}
