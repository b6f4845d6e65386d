"""Source kinds: one sub-package per ``kind:`` a source file may give, behind ``SourceKind``.

The rest of ingest (assets, drift checks, the pipeline) never asks which kind a source is: it
looks the kind up in ``KINDS`` and calls it. Adding a kind, GraphQL say:

1. ``contracts/graphql.py``: the ``graphql:`` section's pydantic model (``Graphql``, with
   ``table_names()`` and whatever else the other sections offer the layers);
2. ``contracts/source.py``: ``"graphql"`` in ``SourceSpec.kind``'s Literal and a field
   ``graphql: Graphql | None = None`` on ``SourceSpec`` (the section check derives from them);
3. ``ingest/kinds/graphql/``: its code, and in its ``__init__.py``
   ``KIND = SourceKind(name="graphql", section=Graphql, build_source=...)`` (plus
   ``load_metadata`` or ``sensors`` if it has any);
4. one line below: ``graphql.KIND.name: graphql.KIND``.
"""

from tributary.ingest.kinds import filesystem, rest_api, sql_database
from tributary.ingest.kinds.base import SourceKind

KINDS: dict[str, SourceKind] = {
    rest_api.KIND.name: rest_api.KIND,
    sql_database.KIND.name: sql_database.KIND,
    filesystem.KIND.name: filesystem.KIND,
}
