"""The publish layer: the analyst snapshot of every asset tagged as published, audited by
every check on those assets and every check marked as a publish audit."""

import dagster as dg

from tributary.graph import AUDIT, PUBLISHED
from tributary.publish.assets import build_publish_assets
from tributary.settings import Settings


def defs(settings: Settings, upstream: dg.Definitions) -> dg.Definitions:
    published = sorted(
        (spec.key for spec in upstream.resolve_all_asset_specs() if PUBLISHED in spec.tags),
        key=lambda k: k.to_user_string(),
    )
    graph = upstream.resolve_asset_graph()
    audits = sorted(
        (
            key
            for key in graph.asset_check_keys
            if key.asset_key in published or graph.get_check_spec(key).metadata.get(AUDIT)
        ),
        key=lambda k: k.to_user_string(),
    )
    return dg.Definitions(assets=build_publish_assets(settings, published, audits))
