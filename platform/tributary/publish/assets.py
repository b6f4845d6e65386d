"""The analyst snapshot: published only when everything upstream, and its checks, passed."""

from collections.abc import Iterable

import dagster as dg

from tributary.publish.snapshot import PUBLISHED_SCHEMAS, publish_snapshot
from tributary.settings import Settings
from tributary.warehouse import Warehouse

# main.published_tables, which publish_snapshot writes into every snapshot.
PUBLISHED_TABLES_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn(
            "table_name", type="varchar", description="A published table, as schema.table."
        ),
        dg.TableColumn("row_count", type="integer", description="Its rows in this snapshot."),
        dg.TableColumn(
            "published_at",
            type="timestamp with time zone",
            description="When this snapshot was published.",
        ),
    ]
)


def audit_failures(instance: dg.DagsterInstance, checks: Iterable[dg.AssetCheckKey]) -> list[str]:
    """Why the working warehouse may not be published: a check that failed (a warning does
    not count), never ran, or has not run since its table last changed. Empty when every
    audit passed."""
    failures = []
    for check in checks:
        record = instance.get_latest_asset_check_evaluation_record(check)
        evaluation = record.event.asset_check_evaluation if record and record.event else None
        changed = instance.get_latest_materialization_event(check.asset_key)
        name = check.to_user_string()
        if evaluation is None:
            failures.append(f"{name} has no result")
        elif not evaluation.passed and evaluation.severity != dg.AssetCheckSeverity.WARN:
            failures.append(f"{name} failed")  # a warning is reported, it does not block
        elif changed is not None and record.event.timestamp < changed.timestamp:
            failures.append(f"{name} has not run since the table changed")
    return failures


def build_publish_assets(
    settings: Settings, upstream: list[dg.AssetKey], audits: list[dg.AssetCheckKey]
) -> list[dg.AssetsDefinition]:
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
        # dagster's TableMetadataSet is private in this version: its public keys instead.
        metadata={
            "dagster/table_name": f"{settings.snapshot.stem}.main.published_tables",
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
        counts = publish_snapshot(warehouse.file, settings.snapshot, required=tables)
        context.log.info(f"published {len(counts)} tables to {settings.snapshot}")
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(settings.snapshot)),
                "tables": dg.MetadataValue.json(counts),
                "dagster/row_count": sum(counts.values()),
            }
        )

    return [analyst_snapshot]
