"""File sources: files in a folder or bucket matching a glob, one raw table per glob.

New and re-delivered files (a newer modification time) are picked up incrementally. Each row
keeps the file and line it came from: a re-read after a crash merges instead of doubling, a
re-delivered file replaces its earlier rows, and a bad value can be traced to its export.

A file that cannot be parsed loads none of its rows; the others load, and the failure is
recorded, in the same run, in ``raw_<source>._file_errors`` (see ``file_error_counts``).
"""

import datetime as dt
from collections.abc import Iterator
from functools import partial
from typing import Any

import dlt
from dlt.sources import DltResource
from dlt.sources.filesystem import FileItemDict, filesystem

from tributary.contracts.filesystem import Filesystem, FileTable
from tributary.contracts.load_mode import write_disposition
from tributary.ingest.kinds.filesystem.read import (
    FILE_LINE_COLUMN,
    FILE_NAME_COLUMN,
    FileParseError,
    read_rows,
)

ERRORS_TABLE = "_file_errors"
# Flags an empty re-delivered file: its earlier rows are deleted and the flag row not kept.
FILE_DELETED_COLUMN = "_file_deleted"

# One row per failed version of a file, so re-running a load never doubles an error.
_ERROR_HINTS = dlt.mark.make_hints(
    table_name=ERRORS_TABLE,
    write_disposition={"disposition": "merge", "strategy": "delete-insert"},
    primary_key=["table_name", "file", "file_modified_at"],
    merge_key="",
    columns={
        "file": {"data_type": "text", "nullable": False},
        "table_name": {"data_type": "text", "nullable": False},
        "line": {"data_type": "bigint"},
        "column_number": {"data_type": "bigint"},
        "error": {"data_type": "text"},
        "file_modified_at": {"data_type": "timestamp", "nullable": False},
        "loaded_at": {"data_type": "timestamp"},
    },
)
_DELETED_HINTS = dlt.mark.make_hints(
    columns={FILE_DELETED_COLUMN: {"data_type": "bool", "hard_delete": True}}
)


def file_resources(fs: Filesystem) -> list[DltResource]:
    """One dlt resource per target table."""
    return [_file_resource(fs.bucket_url, table) for table in fs.tables]


def _file_resource(bucket_url: str, table: FileTable) -> DltResource:
    """Files matching a glob, each parsed whole or reported in `_file_errors`."""
    mode = table.mode
    files = filesystem(bucket_url=bucket_url, file_glob=table.glob).with_name(f"{table.name}_files")
    # Which version of each file was read, kept in dlt state (committed with the load). Not a
    # max-mtime cursor: a file delivered late with an older time (cp -p, rsync -a, unzip)
    # would be skipped for good. replace re-reads every file, so a deleted file's rows go too.
    tracks_files = mode != "replace"
    by_file = mode in ("merge", "scd2")  # a re-delivered file supersedes its earlier rows
    key = table.primary_key or [FILE_NAME_COLUMN, FILE_LINE_COLUMN]
    # An empty re-delivered file leaves no row to carry its name into the merge, so it sends a
    # flag row instead. Only keyed by file and line: a declared key would be null in it, and
    # dlt's scd2 ignores hard deletes.
    flags_empty_files = mode == "merge" and not table.primary_key

    @dlt.transformer(
        name=table.name,
        write_disposition=write_disposition(mode),
        primary_key=key if mode == "merge" else None,
        merge_key=FILE_NAME_COLUMN if by_file else None,
    )
    def rows(items: list[FileItemDict]) -> Iterator[Any]:
        read = dlt.current.resource_state().setdefault("files", {}) if tracks_files else {}
        for item in items:
            # The path under the bucket: two folders may each hold an `export.csv`.
            name = item["relative_path"]
            version = item["modification_date"].isoformat()
            if read.get(name) == version:
                continue  # this version was loaded before
            if tracks_files:
                read[name] = version
            try:
                chunks = read_rows(partial(item.open, mode="rb"), name, table)
            except FileParseError as exc:
                yield dlt.mark.with_hints(
                    _error_row(exc, table, item), _ERROR_HINTS, create_table_variant=True
                )
                continue
            empty = True
            for chunk in chunks:
                empty = False
                yield chunk
            if empty and flags_empty_files:
                tombstone = {FILE_NAME_COLUMN: name, FILE_LINE_COLUMN: 0}
                yield dlt.mark.with_hints({**tombstone, FILE_DELETED_COLUMN: True}, _DELETED_HINTS)

    return files | rows


def _error_row(exc: FileParseError, table: FileTable, item: FileItemDict) -> dict[str, Any]:
    return {
        "file": exc.file_name,
        "table_name": table.name,
        "line": exc.line,
        "column_number": exc.column,
        "error": exc.message,
        "file_modified_at": item["modification_date"],
        "loaded_at": dt.datetime.now(dt.UTC),
    }


def file_error_counts(pipeline: dlt.Pipeline) -> dict[str, int]:
    """Files that failed to parse in the pipeline's last run, by raw table name.

    For the raw tables' asset metadata: a table missing here had no failure in that run.
    """
    trace = pipeline.last_trace
    load_ids = trace.last_load_info.loads_ids if trace and trace.last_load_info else []
    schema = pipeline.default_schema if pipeline.default_schema_name else None
    if not load_ids or schema is None or ERRORS_TABLE not in schema.tables:
        return {}
    with pipeline.sql_client() as client:
        placeholders = ", ".join(["%s"] * len(load_ids))
        rows = client.execute_sql(
            f"select table_name, count(*) from {client.make_qualified_table_name(ERRORS_TABLE)} "
            f"where _dlt_load_id in ({placeholders}) group by table_name",
            *load_ids,
        )
    return {name: count for name, count in rows or []}
