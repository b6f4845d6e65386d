"""The ingest layer: one multi-asset per source system, its checks and its sensors."""

import dagster as dg
from dagster_dlt import DagsterDltResource

from tributary.contracts.source import load_specs
from tributary.ingest.assets import build_ingest, source_sensors
from tributary.settings import Settings


def defs(settings: Settings) -> dg.Definitions:
    specs = load_specs(settings.sources_dir)
    assets, checks = build_ingest(settings, specs)
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        sensors=source_sensors(specs),
        resources={"dlt": DagsterDltResource()},
    )
