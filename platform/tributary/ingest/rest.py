"""REST API sources: dlt's rest_api source, extended through its own extension points."""

from typing import Any

from dlt.common.schema import Schema
from dlt.extract.source import DltSource
from dlt.sources.rest_api import rest_api_source


def rest_source(config: dict[str, Any], schema: Schema) -> DltSource:
    """The dlt source for a `rest_api` section (client, resource_defaults, resources)."""
    return rest_api_source(config, schema=schema)
