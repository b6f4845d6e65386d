"""The code location: each layer's definitions, assembled.

Every asset and check that touches the warehouse runs in the one ``warehouse`` pool (set by
each layer's builder, tested in tests/test_definitions.py): DuckDB never sees two writers.
"""

import dagster as dg
from dagster_dlt import DagsterDltResource

from tributary.automation.jobs import (
    daily_refresh,
    export_sensors,
    refresh_all,
    replay_quarantine,
)
from tributary.contracts.source import load_specs
from tributary.ingest.assets import build_ingest
from tributary.mining.assets import build_mining_assets
from tributary.publish.assets import build_publish_assets
from tributary.quality.layer import build_quality_layer
from tributary.settings import Settings
from tributary.standardize.assets import build_dbt_assets


def build_definitions(settings: Settings) -> dg.Definitions:
    specs = load_specs(settings.sources_dir)
    ingest, ingest_checks = build_ingest(settings, specs)
    dbt_steps, dbt_resource = build_dbt_assets(settings)
    # validates the dictionary, mappings and rules: a mistake stops the load with its line
    quality = build_quality_layer(settings, specs, dbt_steps)
    mining = build_mining_assets(settings)
    marts = [key for step in dbt_steps for key in step.keys if key.path[0] == "marts"]
    # The audit the snapshot waits for: every check on a mart (dbt tests, pandera) and the
    # reconciliation of every entity.
    audits = [
        key
        for key in [
            *(k for step in dbt_steps for k in step.check_keys),
            *(k for c in quality.rules for k in c.check_keys),
        ]
        if key.asset_key in marts or key.name == "reconciliation"
    ]
    publish = build_publish_assets(settings, marts + [a.key for a in mining], audits)
    return dg.Definitions(
        assets=[*ingest, *dbt_steps, *quality.assets, *mining, *publish],
        asset_checks=[*ingest_checks, *quality.rules, *quality.checks],
        jobs=[refresh_all, replay_quarantine],
        schedules=[daily_refresh],
        sensors=[*export_sensors(specs), *quality.sensors],
        resources={"dlt": DagsterDltResource(), "dbt": dbt_resource},
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(Settings.from_env())
