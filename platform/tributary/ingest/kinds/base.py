"""The protocol a source kind implements: what the kind-independent ingest layer asks of it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dlt
from dlt.common.schema import Schema
from dlt.extract.source import DltSource
from pydantic import BaseModel

from tributary.contracts.source import SourceSpec

if TYPE_CHECKING:  # `tributary validate` and `discover` load the kinds and never need dagster
    import dagster as dg

# (section, schema, values to redact) -> the dlt source; the section is the spec's own section,
# its ``${VARS}`` unresolved at definition time and resolved at run time (see ingest/sources.py).
BuildSource = Callable[[Any, Schema, Sequence[str]], DltSource]
# (pipeline after a run, its tables) -> extra asset metadata by table.
LoadMetadata = Callable[[dlt.Pipeline, Sequence[str]], dict[str, dict[str, Any]]]
Sensors = Callable[[SourceSpec], "list[dg.SensorDefinition]"]


def no_load_metadata(pipeline: dlt.Pipeline, tables: Sequence[str]) -> dict[str, dict[str, Any]]:
    return {}


def no_sensors(spec: SourceSpec) -> list[dg.SensorDefinition]:
    return []


def resources_source(resources: Sequence[Any], schema: Schema) -> DltSource:
    """A dlt source holding the given resources, for kinds that build resources themselves."""
    return dlt.source(lambda: resources, schema=schema)()


@dataclass(frozen=True)
class SourceKind:
    """One source kind: the ``kind:`` value, its section's model and what ingest needs of it."""

    name: str  # the `kind:` value, also the name of the spec's section
    section: type[BaseModel]  # the section's contracts model (checked against SourceSpec)
    build_source: BuildSource
    load_metadata: LoadMetadata = field(default=no_load_metadata)
    sensors: Sensors = field(default=no_sensors)
