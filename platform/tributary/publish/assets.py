"""The analyst snapshot asset: published only when everything upstream, and its checks, passed."""

import dagster as dg

from tributary.publish.analyst_snapshot import (
    PUBLISHED_SCHEMAS,
    PUBLISHED_TABLES,
    PUBLISHED_TABLES_SCHEMA,
    publish_analyst_snapshot,
)
from tributary.publish.audit import audit_failures
from tributary.settings import Settings
from tributary.warehouse import Warehouse


def build_publish_assets(
    settings: Settings, upstream: list[dg.AssetKey], audits: list[dg.AssetCheckKey]
) -> list[dg.AssetsDefinition]:
    """The `publish/analyst_snapshot` asset: copies the `upstream` tables once `audits` pass."""

    @dg.asset(
        key=["publish", "analyst_snapshot"],
        deps=upstream,
        group_name="publish",
        kinds={"duckdb"},
        description=(
            f"The DuckDB file analysts open ({settings.snapshot.name}): every table of "
            f"{', '.join(PUBLISHED_SCHEMAS)}, as of the last build that passed its checks."
            "\n\nCopied only when every check on the marts passed since they last changed, "
            "then renamed into place in one step; the previous one is kept for rollback. "
            "Each table's columns are documented on its own asset; the columns below are "
            "those of `published_tables`, the file's index of what it holds."
        ),
        # The public keys of dagster's table metadata, as tributary.graph.table_metadata.
        metadata={
            "dagster/table_name": f"{settings.snapshot.stem}.{PUBLISHED_TABLES}",
            "dagster/column_schema": PUBLISHED_TABLES_SCHEMA,
        },
    )
    def analyst_snapshot(
        context: dg.AssetExecutionContext, warehouse: Warehouse
    ) -> dg.MaterializeResult:
        # Also when run on its own: a failed audit from an earlier run still blocks.
        failures = audit_failures(context.instance, audits)
        if failures:
            raise dg.Failure(
                "not published — the working warehouse failed its audit",
                metadata={"failed_audits": failures},
            )
        tables = [f"{k.path[0]}.{k.path[-1]}" for k in upstream]
        counts = publish_analyst_snapshot(warehouse.file, settings.snapshot, required=tables)
        context.log.info(f"published {len(counts)} tables to {settings.snapshot}")
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(settings.snapshot)),
                "tables": dg.MetadataValue.json(counts),
                "dagster/row_count": sum(counts.values()),
            }
        )

    return [analyst_snapshot]
