"""The quality layer: blocking rules with their quarantine, monitoring checks that warn,
reconciliation, freshness and the scorecard, over the assets defined upstream of it."""

import dagster as dg

from tributary.contracts.source import load_specs
from tributary.quality.freshness import build_freshness_checks, build_freshness_sensors
from tributary.quality.mart_rules import build_mart_checks
from tributary.quality.monitors import build_monitor_checks
from tributary.quality.monitors.history import build_history_assets
from tributary.quality.quarantine import build_quality_assets
from tributary.quality.reconcile import build_reconciliation_checks
from tributary.quality.scorecard import build_scorecard_assets
from tributary.settings import Settings


def defs(settings: Settings, upstream: dg.Definitions) -> dg.Definitions:
    specs = load_specs(settings.sources_dir)
    quarantine, staging_checks = build_quality_assets(settings)
    available = [*upstream.resolve_all_asset_keys(), *(k for a in quarantine for k in a.keys)]
    return dg.Definitions(
        assets=[
            *quarantine,
            *build_history_assets(settings),
            *build_scorecard_assets(settings, available=available),
        ],
        asset_checks=[
            # blocking: rows that fail are quarantined, a mart that fails holds the publish
            *staging_checks,
            *build_mart_checks(settings),
            *build_reconciliation_checks(settings),
            # monitoring: duplicates, outliers and volumes warn; freshness warns and errs to
            # on-call (a stale source does not get fresher by freezing the others)
            *build_monitor_checks(settings),
            *build_freshness_checks(settings, specs),
        ],
        sensors=build_freshness_sensors(specs),
    )
