"""The ``rest_api`` kind: dlt's rest_api source, extended through its own extension points."""

from tributary.contracts.rest_api import RestApi
from tributary.ingest.kinds.base import SourceKind
from tributary.ingest.kinds.rest_api.source import rest_source

KIND = SourceKind(name="rest_api", section=RestApi, build_source=rest_source)
