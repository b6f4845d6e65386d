"""The mining layer: scikit-learn assets reading the marts and writing the ``ml`` schema."""

import dagster as dg

from tributary.mining.assets import build_mining_assets
from tributary.settings import Settings


def defs(settings: Settings) -> dg.Definitions:
    """The mining assets; each reads marts through the `warehouse` resource."""
    return dg.Definitions(assets=build_mining_assets(settings))
