"""One Dagster asset per raw table, keyed ``[raw_<source>, <table>]``.

The key equals the dbt source name and table, so dbt's source references connect to these
assets without any per-table metadata: dlt dataset = DuckDB schema = dbt source.
"""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import dlt
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from tributary.contracts.source import SourceSpec
from tributary.ingest.drift import schema_drift
from tributary.ingest.kinds import KINDS
from tributary.ingest.pipeline import loaded_rows, one_run_at_a_time, pipeline_for, streamed
from tributary.ingest.sources import build_source
from tributary.settings import Settings
from tributary.warehouse import Warehouse

INGEST_GROUP = "ingest"


class RawTableTranslator(DagsterDltTranslator):
    """Keys raw tables by dataset and table; drops dagster-dlt's invented upstream node."""

    def __init__(self, spec: SourceSpec):
        self.spec = spec

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        default = super().get_asset_spec(data)
        table = data.resource.table_name
        return default.replace_attributes(
            key=dg.AssetKey([self.spec.dataset, str(table)]),
            deps=[],
            group_name=INGEST_GROUP,
            description=f"{self.spec.description or self.spec.name}: table `{table}`, "
            f"loaded as is into `{self.spec.dataset}.{table}`.".strip(),
            kinds={"dlt", "duckdb", self.spec.kind.replace("_", "")},
            tags={"tributary/source": self.spec.name},
        )


def source_assets(spec: SourceSpec, settings: Settings) -> dg.AssetsDefinition:
    """The multi-asset that loads every table of one source system in one dlt run."""
    pipeline = pipeline_for(spec, settings)

    @dlt_assets(
        dlt_source=build_source(spec),
        dlt_pipeline=pipeline,
        name=f"ingest_{spec.name}",
        dagster_dlt_translator=RawTableTranslator(spec),
    )
    def _load(context: dg.AssetExecutionContext, dlt: DagsterDltResource) -> Iterator[Any]:
        # Secrets are resolved here, at run time, from the environment only.
        source = build_source(spec, environ=os.environ)
        # Parquet load files: DuckDB ingests them tens of times faster than INSERT statements.
        with one_run_at_a_time(pipeline):
            results = list(
                dlt.run(context=context, dlt_source=source, loader_file_format="parquet")
            )
        tables = [result.asset_key.path[-1] for result in results]
        extra = KINDS[spec.kind].load_metadata(pipeline, tables)
        for result, table in zip(results, tables, strict=True):
            yield with_load_metadata(result, pipeline, extra.get(table, {}))

    return _load


def with_load_metadata(
    result: dg.MaterializeResult, pipeline: dlt.Pipeline, extra: dict[str, Any]
) -> Any:
    """dagster-dlt's metadata plus what an on-call engineer asks first: how long, how big,
    which schema version."""
    trace = pipeline.last_trace
    table = result.asset_key.path[-1]
    extra = {**extra, "schema_version": pipeline.default_schema.version}
    if trace is not None:
        extra["duration_s"] = round((trace.finished_at - trace.started_at).total_seconds(), 3)
        load = trace.last_load_info
        if load is not None:
            extra["bytes"] = sum(
                job.file_size
                for package in load.load_packages
                for job in package.jobs.get("completed_jobs", [])
                if job.job_file_info.table_name == table
            )
    # dagster-dlt counts rows in dlt's load files: a streamed full load went past them.
    rows = loaded_rows(pipeline).get(table)
    if rows:
        extra["rows_loaded"] = dg.MetadataValue.int(rows)
    if table in (done := streamed(pipeline)):
        extra["bytes"] = extra.get("bytes", 0) + done[table]["bytes"]  # Arrow bytes, not files
    return dg.MaterializeResult(
        asset_key=result.asset_key,
        metadata={**(result.metadata or {}), **extra},
        check_results=result.check_results,
        data_version=result.data_version,
        tags=result.tags,
    )


def drift_checks(spec: SourceSpec) -> dg.AssetChecksDefinition:
    """One warning check per raw table: new columns are reported, changed types and vanished
    columns fail the check (never the load: the data still flows, a person looks)."""
    keys = [dg.AssetKey([spec.dataset, table]) for table in spec.table_names()]

    @dg.multi_asset_check(
        specs=[
            dg.AssetCheckSpec("schema_drift", asset=key, description=drift_checks.__doc__)
            for key in keys
        ],
        name=f"schema_drift_{spec.name}",
        can_subset=True,
    )
    def _check(
        context: dg.AssetCheckExecutionContext, warehouse: Warehouse
    ) -> Iterator[dg.AssetCheckResult]:
        selected = {k.asset_key.path[-1] for k in context.selected_asset_check_keys}
        with warehouse.connect(read_only=True) as con:
            drift = schema_drift(con, spec.dataset, sorted(selected))
        for table, found in drift.items():
            yield dg.AssetCheckResult(
                asset_key=dg.AssetKey([spec.dataset, table]),
                check_name="schema_drift",
                passed=not found.needs_attention,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={
                    "new_columns": found.new_columns,
                    "type_changes": found.type_changes,
                    "vanished_columns": found.vanished_columns,
                    "contract": spec.contract,
                },
            )

    return _check


def build_ingest(
    settings: Settings, specs: list[SourceSpec]
) -> tuple[list[dg.AssetsDefinition], list[Any]]:
    """Every source's assets and its schema drift checks."""
    Path(settings.dlt_pipelines_dir).mkdir(parents=True, exist_ok=True)
    return (
        [source_assets(spec, settings) for spec in specs],
        [drift_checks(spec) for spec in specs],
    )


def source_sensors(specs: list[SourceSpec]) -> list[dg.SensorDefinition]:
    """Every source's sensors, as its kind defines them (a file source watches its folder)."""
    return [sensor for spec in specs for sensor in KINDS[spec.kind].sensors(spec)]
