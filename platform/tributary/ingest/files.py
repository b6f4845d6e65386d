"""File sources: files in a folder or bucket matching a glob, one raw table per glob.

New and re-delivered files (a newer modification time) are picked up incrementally. Each row
keeps the file and line it came from: a re-read after a crash merges instead of doubling, a
re-delivered file replaces its earlier rows, and a bad value can be traced to its export.

A file that cannot be parsed loads none of its rows; the others load, and the failure is
recorded, in the same run, in ``raw_<source>._file_errors`` (see ``file_error_counts``).
"""

import codecs
import datetime as dt
from collections.abc import Iterator
from functools import partial
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

import dlt
from dlt.sources import DltResource
from dlt.sources.filesystem import FileItemDict, filesystem
from pydantic import Field, ValidationInfo, field_validator, model_validator

from tributary.ingest.files_read import (
    FILE_LINE_COLUMN,
    FILE_NAME_COLUMN,
    TEXT_FORMATS,
    FileParseError,
    read_rows,
)
from tributary.ingest.load import LoadMode, write_disposition
from tributary.specfile import NAME_PATTERN, Strict

ERRORS_TABLE = "_file_errors"
# Flags an empty re-delivered file: its earlier rows are deleted and the flag row not kept.
FILE_DELETED_COLUMN = "_file_deleted"

FileFormat = Literal["csv", "tsv", "excel", "json", "jsonl", "parquet"]
# Options that only mean something for some formats: elsewhere they are a mistake to report.
_OPTION_FORMATS: dict[str, frozenset[str]] = {
    "encoding": TEXT_FORMATS,
    "delimiter": frozenset({"csv"}),
    "header_row": frozenset({"csv", "tsv", "excel"}),
    "sheet": frozenset({"excel"}),
    "records": frozenset({"json"}),
}
# A glob ending in one of these names its format; a different `format` is surely a mistake.
_EXTENSION_FORMATS: dict[str, frozenset[str]] = {
    ".csv": frozenset({"csv", "tsv"}),
    ".tsv": frozenset({"csv", "tsv"}),
    ".xlsx": frozenset({"excel"}),
    ".xlsm": frozenset({"excel"}),
    ".xls": frozenset(),  # the old binary format: openpyxl reads .xlsx only
    ".json": frozenset({"json", "jsonl"}),
    ".jsonl": frozenset({"jsonl"}),
    ".ndjson": frozenset({"jsonl"}),
    ".parquet": frozenset({"parquet"}),
}


class FileTable(Strict):
    """One raw table, filled from every file whose path under the bucket matches `glob`."""

    name: str = Field(pattern=NAME_PATTERN)
    glob: str = Field(description="Files under bucket_url, e.g. `invoices_*.csv`, `**/*.json`.")
    format: FileFormat = Field(
        "csv",
        validate_default=True,
        description="csv, tsv, excel (.xlsx), json (an array, or one under `records`), "
        "jsonl (one object per line) or parquet.",
    )
    encoding: str = Field(
        "utf-8",
        description="Of text formats: e.g. utf-8, gbk, gb18030, utf-16; `auto` tries utf-8, "
        "then gb18030. A byte order mark (UTF-8 or UTF-16) is detected and always wins.",
    )
    delimiter: str = Field(",", min_length=1, max_length=1, description="csv only.")
    header_row: int = Field(1, ge=1, description="The line (sheet row) holding column names.")
    sheet: Annotated[int, Field(ge=0)] | str = Field(
        0, description="excel only: a sheet name, or its position counted from 0."
    )
    records: str | None = Field(
        None, min_length=1, description="json only: dotted key of the list, e.g. `data.items`."
    )
    primary_key: str | list[str] | None = Field(
        None, description="Merge on this key; by default rows are keyed by file and line."
    )
    load: LoadMode | None = Field(
        None,
        description="merge (default): a re-delivered file replaces its rows. append: every "
        "file's rows are added. replace: each run reloads all matching files. scd2: a "
        "re-delivered file's changed rows are versioned.",
    )

    @field_validator("encoding", "delimiter", "header_row", "sheet", "records")
    @classmethod
    def _option_fits_format(cls, value: Any, info: ValidationInfo) -> Any:
        formats = _OPTION_FORMATS[info.field_name]
        fmt = info.data.get("format")
        # Defaults come back when a spec is re-validated (resolve_env dumps every field).
        is_default = value == cls.model_fields[info.field_name].default
        if fmt is not None and fmt not in formats and not is_default:
            raise ValueError(f"applies to {', '.join(sorted(formats))} files only, not {fmt}")
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        if value == "auto":
            return value
        try:
            # Decoding (not just a lookup) also rejects codecs that are not text encodings
            # (rot13, zlib); empty bytes would skip the lookup altogether.
            b"\0\0\0\0".decode(value)
        except LookupError as exc:
            raise ValueError(
                f"unknown encoding {value!r} (e.g. utf-8, gbk, gb18030, utf-16, auto)"
            ) from exc
        return codecs.lookup(value).name

    @field_validator("format")
    @classmethod
    def _format_fits_glob(cls, value: str, info: ValidationInfo) -> str:
        glob = info.data.get("glob", "")
        suffix = PurePosixPath(glob.removesuffix(".gz")).suffix.lower()
        expected = _EXTENSION_FORMATS.get(suffix)
        if expected is not None and value not in expected:
            hint = f"use `format: {sorted(expected)[0]}`" if expected else "save them as .xlsx"
            raise ValueError(f"is {value} but the glob matches {suffix} files: {hint}")
        return value

    @model_validator(mode="after")
    def _key_needs_merge(self) -> "FileTable":
        if self.primary_key and self.load not in (None, "merge"):
            raise ValueError(f"primary_key applies to `load: merge` only, not {self.load}")
        return self


class Filesystem(Strict):
    bucket_url: str = Field(description="Folder or bucket URL, usually `${SOME_ENV_VAR}`.")
    tables: list[FileTable] = Field(min_length=1)


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
    mode = table.load or "merge"
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
        write_disposition=write_disposition(mode, key),
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
