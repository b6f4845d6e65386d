"""The ``filesystem`` kind: files in a folder or bucket, one raw table per glob, and a sensor."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import dlt
from dlt.common.schema import Schema
from dlt.extract.source import DltSource

from tributary.contracts.filesystem import Filesystem
from tributary.contracts.source import SourceSpec
from tributary.ingest.kinds.base import SourceKind, resources_source
from tributary.ingest.kinds.filesystem.source import file_error_counts, file_resources

if TYPE_CHECKING:
    import dagster as dg


def _source(section: Filesystem, schema: Schema, redact: Sequence[str] = ()) -> DltSource:
    return resources_source(file_resources(section), schema)


def _files_failed(pipeline: dlt.Pipeline, tables: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Files that did not parse, by table: they are in raw_<source>._file_errors, the rest
    loaded."""
    failed = file_error_counts(pipeline)
    return {table: {"files_failed": failed.get(table, 0)} for table in tables}


def _sensors(spec: SourceSpec) -> list[dg.SensorDefinition]:
    # Imported here: validating and discovering sources never loads dagster (bench/startup.py).
    from tributary.ingest.kinds.filesystem.sensor import export_sensors

    return export_sensors(spec)


KIND = SourceKind(
    name="filesystem",
    section=Filesystem,
    build_source=_source,
    load_metadata=_files_failed,
    sensors=_sensors,
)
