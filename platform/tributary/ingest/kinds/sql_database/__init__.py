"""The ``sql_database`` kind: tables, shards, queries or a whole database, as Arrow batches."""

from collections.abc import Sequence

from dlt.common.schema import Schema
from dlt.extract.source import DltSource

from tributary.contracts.sql_database import SqlDatabase
from tributary.ingest.kinds.base import SourceKind, resources_source
from tributary.ingest.kinds.sql_database.source import sql_resources


def _source(section: SqlDatabase, schema: Schema, redact: Sequence[str] = ()) -> DltSource:
    return resources_source(sql_resources(section), schema)


KIND = SourceKind(name="sql_database", section=SqlDatabase, build_source=_source)
