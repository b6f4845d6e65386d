"""How layers meet in the asset graph: the tags and metadata every layer reads the same way.

Layers never import each other; they find each other's assets by key and by these marks. The
publish layer copies every asset tagged ``PUBLISHED`` into the analyst snapshot and waits for
every check on those assets, and for every check marked ``AUDIT``, to pass first.
"""

from collections.abc import Mapping
from typing import Any

import dagster as dg

PUBLISHED = "tributary/published"  # asset tag: the analyst snapshot holds this table
AUDIT = "tributary/audit"  # check metadata: the snapshot is published only once it passed
PUBLISHED_TAGS = {PUBLISHED: ""}
AUDIT_METADATA = {AUDIT: True}
# The check every raw table of a source with `freshness` gets (quality); alerts read its
# failures with severity ERROR as the source being past block_after (operate).
FRESHNESS_CHECK = "freshness"


def table_metadata(table_name: str, columns: Mapping[str, tuple[str, str]]) -> dict[str, Any]:
    """Dagster's table metadata (``catalog.schema.table`` and its typed, described columns).

    dagster's TableMetadataSet is private in this version: its public keys instead.
    """
    return {
        "dagster/table_name": table_name,
        "dagster/column_schema": dg.TableSchema(
            columns=[
                dg.TableColumn(name, type=type_, description=description)
                for name, (type_, description) in columns.items()
            ]
        ),
    }
