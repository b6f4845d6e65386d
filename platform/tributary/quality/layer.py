"""The quality layer assembled: what it adds to the graph, and which of its checks audit the
publish (the rest warn or err to on-call without holding the snapshot back)."""

from dataclasses import dataclass

import dagster as dg

from tributary.contracts.source import SourceSpec
from tributary.quality.checks import build_quality_checks
from tributary.quality.freshness import build_freshness_checks, build_freshness_sensors
from tributary.quality.profiling import build_profiling_assets, build_profiling_checks
from tributary.quality.quarantine import build_quality_assets
from tributary.quality.reconcile import build_reconciliation_checks
from tributary.quality.scorecard import build_scorecard_assets
from tributary.settings import Settings


@dataclass(frozen=True)
class QualityLayer:
    assets: list[dg.AssetsDefinition]
    checks: list[dg.AssetChecksDefinition]
    rules: list[dg.AssetChecksDefinition]  # dictionary and hand-written rules, reconciliation
    sensors: list[dg.SensorDefinition]


def build_quality_layer(
    settings: Settings, specs: list[SourceSpec], upstream: list[dg.AssetsDefinition]
) -> QualityLayer:
    quarantine, rule_checks = build_quality_assets(settings)
    available = [k for a in [*upstream, *quarantine] for k in a.keys]
    return QualityLayer(
        assets=[
            *quarantine,
            *build_profiling_assets(settings),
            *build_scorecard_assets(settings, available=available),
        ],
        # Duplicates, outliers and volumes warn. Freshness warns and errs to on-call: a stale
        # source does not get fresher by freezing the others.
        checks=[*build_profiling_checks(settings), *build_freshness_checks(settings, specs)],
        rules=[
            *build_quality_checks(settings),
            *rule_checks,
            *build_reconciliation_checks(settings),
        ],
        sensors=build_freshness_sensors(specs),
    )
