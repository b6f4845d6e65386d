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

from tributary.graph import PUBLISHED_TAGS
from tributary.settings import Settings


class LayerTranslator(DagsterDbtTranslator):
    """Group = the model's folder; the key (schema, name) is the warehouse table it builds;
    the marts are what the analyst snapshot publishes."""

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] not in ("model", "seed", "snapshot"):
            return spec
        folder = props["fqn"][1]
        spec = spec.replace_attributes(group_name=folder)
        return spec.merge_attributes(tags=PUBLISHED_TAGS) if folder == "marts" else spec


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


# Staging (and the source tests on the raw tables) builds in its own step: the quality layer
# quarantines rows between staging and the conformed models, which read its tables.
STAGING_SELECTION = "fqn:staging source:*"


def dbt_step(
    settings: Settings,
    project: DbtProject,
    translator: DagsterDbtTranslator,
    name: str,
    description: str,
    **selection: str,
) -> dg.AssetsDefinition:
    """One `dbt build` step over a selection of the project (`select=` or `exclude=`), with
    Tributary's vars."""

    def build(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
        yield from dbt.cli(["build", "--vars", dbt_vars(settings)], context=context).stream()

    build.__doc__ = description  # the step's description in the Dagster UI
    return dbt_assets(
        manifest=project.manifest_path, dagster_dbt_translator=translator, name=name, **selection
    )(build)


def build_dbt_assets(settings: Settings) -> tuple[list[dg.AssetsDefinition], DbtCliResource]:
    """Two dbt steps around the quarantine: staging, then conformed models and marts."""
    project = dbt_project(settings)
    # Source tests (e.g. codes no mapping knows) become checks on the raw tables themselves.
    translator = LayerTranslator(
        settings=DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True)
    )
    staging = "Rename, cast and convert every source table into the dictionary's names and units."
    models = "Conform every entity across systems and build the marts analysts read."
    steps = [
        dbt_step(settings, project, translator, "dbt_staging", staging, select=STAGING_SELECTION),
        dbt_step(settings, project, translator, "dbt_models", models, exclude=STAGING_SELECTION),
    ]
    # The dbt installed beside this Python, whether or not the virtualenv is activated.
    dbt_executable = str(Path(sys.executable).with_name("dbt"))
    resource = DbtCliResource(project_dir=project, dbt_executable=dbt_executable)
    return steps, resource
