"""The publish layer: the analyst snapshot of every asset tagged as published, audited by
every check on those assets and every check marked as a publish audit."""

import dagster as dg

from tributary.graph import AUDIT, PUBLISHED
from tributary.publish.assets import build_publish_assets
from tributary.settings import Settings


def defs(settings: Settings, upstream: dg.Definitions) -> dg.Definitions:
    """Chooses from `upstream` by tag and check metadata alone, never by asset names."""
    published = {spec.key for spec in upstream.resolve_all_asset_specs() if PUBLISHED in spec.tags}
    graph = upstream.resolve_asset_graph()
    audits = {
        key
        for key in graph.asset_check_keys
        if key.asset_key in published or graph.get_check_spec(key).metadata.get(AUDIT)
    }
    # In name order, so the asset's deps and its audit list read the same on every load.
    assets = build_publish_assets(settings, sorted(published, key=_name), sorted(audits, key=_name))
    return dg.Definitions(assets=assets)


def _name(key: dg.AssetKey | dg.AssetCheckKey) -> str:
    return key.to_user_string()
