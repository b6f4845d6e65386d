"""dbt models as Dagster assets: staging → intermediate → marts, with dbt tests as checks.

Groups follow the dbt folders; raw sources resolve to ``[raw_<source>, <table>]``, the keys
the ingest layer gives its tables, so the graph joins without per-table metadata.
"""

import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from tributary.settings import WAREHOUSE_POOL, Settings


class LayerTranslator(DagsterDbtTranslator):
    """Group = the model's folder; the key (schema, name) is the warehouse table it builds."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] in ("model", "seed", "snapshot"):
            return dbt_resource_props["fqn"][1]
        return super().get_group_name(dbt_resource_props)


def dbt_project(settings: Settings) -> DbtProject:
    project = DbtProject(
        project_dir=settings.dbt_project_dir, profiles_dir=settings.dbt_project_dir
    )
    # Parses only under `dagster dev`; tests, CI and `make demo` run `dbt parse` first.
    project.prepare_if_dev()
    if not project.manifest_path.exists():
        raise FileNotFoundError(
            f"{project.manifest_path} is missing: run `make prepare` (dbt parse) first"
        )
    return project


def dbt_vars(settings: Settings) -> str:
    """What dbt needs from Tributary's settings, passed on every invocation."""
    return json.dumps(
        {"warehouse_path": str(settings.warehouse), "base_currency": settings.base_currency}
    )


def build_dbt_assets(settings: Settings) -> tuple[dg.AssetsDefinition, DbtCliResource]:
    project = dbt_project(settings)

    @dbt_assets(
        manifest=project.manifest_path,
        # Source tests (e.g. codes no mapping knows) become checks on the raw tables themselves.
        dagster_dbt_translator=LayerTranslator(
            settings=DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True)
        ),
        pool=WAREHOUSE_POOL,
    )
    def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
        """Standardize and conform every source into the canonical warehouse tables."""
        yield from dbt.cli(["build", "--vars", dbt_vars(settings)], context=context).stream()

    # The dbt installed beside this Python, whether or not the virtualenv is activated.
    dbt_executable = str(Path(sys.executable).with_name("dbt"))
    return dbt_models, DbtCliResource(project_dir=project, dbt_executable=dbt_executable)
