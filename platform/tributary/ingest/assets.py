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

from tributary.ingest.sources import build_source
from tributary.ingest.spec import SourceSpec, load_specs
from tributary.settings import WAREHOUSE_POOL, Settings

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


def pipeline_for(spec: SourceSpec, settings: Settings) -> dlt.Pipeline:
    """A dlt pipeline per source system, its state kept beside the warehouse."""
    return dlt.pipeline(
        pipeline_name=f"tributary_{spec.name}",
        destination=dlt.destinations.duckdb(str(settings.warehouse)),
        dataset_name=spec.dataset,
        pipelines_dir=str(settings.dlt_pipelines_dir),
    )


def source_assets(spec: SourceSpec, settings: Settings) -> dg.AssetsDefinition:
    """The multi-asset that loads every table of one source system in one dlt run."""

    @dlt_assets(
        dlt_source=build_source(spec),
        dlt_pipeline=pipeline_for(spec, settings),
        name=f"ingest_{spec.name}",
        dagster_dlt_translator=RawTableTranslator(spec),
        pool=WAREHOUSE_POOL,
    )
    def _load(context: dg.AssetExecutionContext, dlt: DagsterDltResource) -> Iterator[Any]:
        # Secrets are resolved here, at run time, from the environment only.
        source = build_source(spec, environ=os.environ)
        yield from dlt.run(context=context, dlt_source=source)

    return _load


def build_ingest_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    Path(settings.dlt_pipelines_dir).mkdir(parents=True, exist_ok=True)
    return [source_assets(spec, settings) for spec in load_specs(settings.sources_dir)]
