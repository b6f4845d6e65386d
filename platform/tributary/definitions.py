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
from tributary.ingest.assets import build_ingest
from tributary.ingest.spec import load_specs
from tributary.mining.assets import build_mining_assets
from tributary.publish.assets import build_publish_assets
from tributary.quality.checks import build_quality_checks
from tributary.quality.freshness import build_freshness_checks, build_freshness_sensors
from tributary.quality.quarantine import build_quality_assets
from tributary.quality.reconcile import build_reconciliation_checks
from tributary.quality.scorecard import build_scorecard_assets
from tributary.settings import Settings
from tributary.standardize.assets import build_dbt_assets
from tributary.standardize.generate import load_mappings_for


def build_definitions(settings: Settings) -> dg.Definitions:
    specs = load_specs(settings.sources_dir)
    load_mappings_for(settings)  # a broken mapping or dictionary stops the load with its line
    ingest, ingest_checks = build_ingest(settings, specs)
    dbt_steps, dbt_resource = build_dbt_assets(settings)
    mining = build_mining_assets(settings)
    marts = [key for step in dbt_steps for key in step.keys if key.path[0] == "marts"]
    quarantine, rule_checks = build_quality_assets(settings)
    scorecard = build_scorecard_assets(
        settings, available=[k for a in [*dbt_steps, *quarantine] for k in a.keys]
    )
    reconciliation = build_reconciliation_checks(settings)
    # Freshness warns and errs to on-call; it does not hold the snapshot back (a stale source
    # does not get fresher by freezing the others).
    freshness = build_freshness_checks(settings, specs)
    quality_checks = [*build_quality_checks(settings), *rule_checks, *reconciliation]
    # The audit the snapshot waits for: every check on a mart (dbt tests and pandera), and
    # every entity's reconciliation.
    audits = [
        key
        for key in [
            *(k for step in dbt_steps for k in step.check_keys),
            *(k for c in quality_checks for k in c.check_keys),
        ]
        if key.asset_key in marts or key.name == "reconciliation"
    ]
    publish = build_publish_assets(settings, marts + [a.key for a in mining], audits)
    return dg.Definitions(
        assets=[*ingest, *dbt_steps, *quarantine, *scorecard, *mining, *publish],
        asset_checks=[*ingest_checks, *quality_checks, *freshness],
        jobs=[refresh_all, replay_quarantine],
        schedules=[daily_refresh],
        sensors=[*export_sensors(specs), *build_freshness_sensors(specs)],
        resources={"dlt": DagsterDltResource(), "dbt": dbt_resource},
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(Settings.from_env())
