"""The standardize layer: the dbt project's models as assets, its tests as checks."""

import dagster as dg

from tributary.settings import Settings
from tributary.standardize.assets import build_dbt_assets


def defs(settings: Settings) -> dg.Definitions:
    steps, dbt = build_dbt_assets(settings)
    return dg.Definitions(assets=steps, resources={"dbt": dbt})
