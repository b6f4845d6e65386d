"""The analyst snapshot: published only when everything upstream, and its checks, passed."""

import dagster as dg

from tributary.publish.snapshot import PUBLISHED_SCHEMAS, publish_snapshot
from tributary.settings import WAREHOUSE_POOL, Settings


def build_publish_assets(
    settings: Settings, upstream: list[dg.AssetKey]
) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=["publish", "analyst_snapshot"],
        deps=upstream,
        group_name="publish",
        pool=WAREHOUSE_POOL,
        kinds={"duckdb"},
        description=(
            f"The DuckDB file analysts open ({settings.snapshot.name}): every table of "
            f"{', '.join(PUBLISHED_SCHEMAS)}, copied only after the blocking checks passed, "
            "then renamed into place in one step. The previous one is kept for rollback."
        ),
    )
    def analyst_snapshot(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        counts = publish_snapshot(settings.warehouse, settings.snapshot)
        context.log.info(f"published {len(counts)} tables to {settings.snapshot}")
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(settings.snapshot)),
                "tables": dg.MetadataValue.json(counts),
                "dagster/row_count": sum(counts.values()),
            }
        )

    return [analyst_snapshot]
