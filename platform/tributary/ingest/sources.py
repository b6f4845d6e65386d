"""Turn a SourceSpec into a dlt source: one dlt resource per target table.

Called twice per source: at definition time with ``environ=None`` (only names and hints are
needed, nothing connects and ``${VARS}`` stay unresolved) and at run time with the real
environment, which resolves every ``${VAR}`` first so a missing secret is named up front.
"""

from __future__ import annotations

from collections.abc import Mapping

from dlt.common.schema import Schema
from dlt.extract.source import DltSource

from tributary.contracts.source import SourceSpec, resolve_env, secret_values
from tributary.ingest.kinds import KINDS

# A type change never silently becomes a variant column: under evolve it is allowed but
# reported by the schema drift check; under freeze it fails the load.
CONTRACTS = {
    "evolve": "evolve",
    "freeze": {"tables": "evolve", "columns": "freeze", "data_type": "freeze"},
    "discard": {"tables": "evolve", "columns": "discard_value", "data_type": "discard_value"},
}


def build_source(spec: SourceSpec, environ: Mapping[str, str] | None = None) -> DltSource:
    """The dlt source for a spec; with ``environ`` every ``${VAR}`` is resolved from it."""
    redact = secret_values(spec, environ) if environ is not None else []
    if environ is not None:
        spec = resolve_env(spec, environ)
    schema = Schema(spec.name, normalizers={"names": spec.naming})
    source = KINDS[spec.kind].build_source(spec.section, schema, redact)
    source.schema_contract = CONTRACTS[spec.contract]
    return source
