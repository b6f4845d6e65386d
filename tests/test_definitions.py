"""The code location: loads, validates with Dagster's own CLI, and keeps its shape."""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from tributary.definitions import build_definitions
from tributary.settings import PROJECT_ROOT
from tributary.warehouse import WAREHOUSE_POOL

RAW = {
    "raw_hr/employees",
    "raw_hr/departments",
    "raw_crm/users",
    "raw_crm/customers",
    "raw_erp/products",
    "raw_erp/sales_reps",
    "raw_erp/orders",
    "raw_erp/order_lines",
    "raw_finance/invoices",
    "raw_finance/payments",
    "raw_finance/fx_rates",
}
MARTS = {
    "marts/dim_employee",
    "marts/dim_customer",
    "marts/fct_orders",
    "marts/fct_invoices",
    "marts/crosswalk",
}


def test_asset_graph_shape(settings):
    """The contracts between layers: raw keys, groups, and joins by key alone."""
    graph = build_definitions(settings).resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert RAW | MARTS | {"ml/order_anomalies", "publish/analyst_snapshot"} <= keys
    groups = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert {groups[k] for k in RAW} == {"ingest"}
    assert {groups[k] for k in MARTS} == {"marts"}
    assert groups["staging/stg_hr__employees"] == "staging"
    # dbt sources join the raw tables by key alone: dlt dataset = schema = dbt source.
    parents = graph.get(dg.AssetKey(["staging", "stg_hr__employees"])).parent_keys
    assert parents == {dg.AssetKey(["raw_hr", "employees"])}
    snapshot_parents = graph.get(dg.AssetKey(["publish", "analyst_snapshot"])).parent_keys
    assert {k.to_user_string() for k in snapshot_parents} == MARTS | {"ml/order_anomalies"}


SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"


def describe(defs: dg.Definitions) -> dict:
    """The shape a refactor must keep: per asset its group, parents, checks, partitions,
    pools, kinds and automation; each check's severity; per job its assets; each schedule
    and sensor's target."""
    graph = defs.resolve_asset_graph()

    def names(keys) -> list[str]:
        return sorted(k.to_user_string() for k in keys)

    def node(key: dg.AssetKey) -> dict:
        asset = graph.get(key)
        condition = asset.automation_condition
        return {
            "group": asset.group_name,
            "deps": names(asset.parent_keys),
            "checks": sorted(c.name for c in asset.check_keys),
            "partitions": str(asset.partitions_def) if asset.partitions_def else None,
            "pools": sorted(asset.pools or []),
            "kinds": sorted(asset.kinds),
            "automation": condition.get_label() if condition else None,
        }

    return {
        "assets": {k.to_user_string(): node(k) for k in sorted(graph.get_all_asset_keys())},
        "checks": {
            k.to_user_string(): "blocking" if graph.get_check_spec(k).blocking else "warning"
            for k in sorted(graph.asset_check_keys, key=lambda k: k.to_user_string())
        },
        "jobs": {
            j.name: names(defs.resolve_job_def(j.name).asset_layer.executable_asset_keys)
            for j in sorted(defs.jobs or [], key=lambda j: j.name)
        },
        "schedules": {s.name: [s.cron_schedule, s.job_name] for s in defs.schedules or []},
        # a sensor that launches nothing (the alerts sensor) has no target
        "sensors": {s.name: s.job_name if s.targets else None for s in defs.sensors or []},
    }


def test_definitions_match_the_committed_snapshot(settings):
    """Every key, group, check, job, schedule and sensor: a rename shows up in review.

    After an intended change: TRIBUTARY_UPDATE_SNAPSHOTS=1 pytest tests/test_definitions.py
    """
    current = describe(build_definitions(settings))
    if os.environ.get("TRIBUTARY_UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(current, indent=2, ensure_ascii=False) + "\n")
    assert current == json.loads(SNAPSHOT.read_text())


def test_every_warehouse_step_shares_one_pool(settings):
    defs = build_definitions(settings)
    job = defs.resolve_implicit_global_asset_job_def()
    # Freshness reads only Dagster's records, never the warehouse: it must not queue behind
    # a hung load holding the pool, which is exactly when it matters.
    pools = {
        node.name: node.definition.pool
        for node in job.graph.node_dict.values()
        if not node.name.startswith("freshness_")
    }
    assert pools and set(pools.values()) == {WAREHOUSE_POOL}, pools
    checks = defs.resolve_asset_graph().asset_check_keys
    assert dg.AssetCheckKey(dg.AssetKey(["marts", "fct_orders"]), "pandera_fct_orders") in checks
    assert len(checks) > 30  # dbt tests arrive as asset checks too


def test_automation_is_declared(settings):
    defs = build_definitions(settings)
    assert defs.resolve_schedule_def("daily_refresh").cron_schedule == "0 6 * * *"
    sensor = defs.resolve_sensor_def("finance_export_sensor")
    assert sensor.job_name == "finance_refresh"
    selection = defs.resolve_job_def("finance_refresh").asset_layer.executable_asset_keys
    assert dg.AssetKey(["raw_finance", "invoices"]) in selection
    assert dg.AssetKey(["publish", "analyst_snapshot"]) in selection  # downstream too
    assert dg.AssetKey(["raw_erp", "orders"]) not in selection


def test_dagster_validates_the_workspace(tmp_path: Path):
    env = {**os.environ, "TRIBUTARY_DATA_DIR": str(tmp_path), "DAGSTER_HOME": str(tmp_path)}
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr
